"""One shard of consent intake, run by the stream runtime (joinedup.contract.streams).

The runtime hands the handler a batch of decoded records from partition ``i`` of every
``joinedup.intake.<agency>`` topic. For each ``ConsentStatement`` (other submissions belong to the referral
service and are passed over) the handler validates it with the core and returns:

- accepted: its canonical event for ``joinedup.consent.events`` and a ``SubmissionAccepted`` receipt;
- a duplicate (same statement version, same content): the same receipt again, no event;
- rejected: a ``SubmissionRejected`` receipt with the reason code, on the agency's receipts topic.

Every version of a statement has the same key (``<agency>/<statement_ref>``), so one shard sees all of
them: the shard's ledger of accepted versions, in the shard's SQLite file and committed in the runtime's
batch transaction with the offsets and the outbox, makes the duplicate / version-conflict check exact.
Times come from the Kafka timestamp of the input, never the clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from joinedup.consent.adapters.mapping import (
    Provenance,
    accepted_receipt,
    event_key,
    rejected_receipt,
    statement_from_intake,
    to_avro,
)
from joinedup.consent.app.handlers import IntakeOutcome, Rejection, review_statement
from joinedup.consent.domain.codes import KnownCodes
from joinedup.consent.domain.errors import CommandRejectedError
from joinedup.consent.domain.events import EVENT_TYPES, StatementEvent
from joinedup.consent.domain.intake import DEFAULT_FUTURE_TOLERANCE
from joinedup.consent.domain.state import ConsentState
from joinedup.contract.envelope import from_kafka_timestamp
from joinedup.contract.models.intake import ConsentStatement
from joinedup.contract.streams import Input, Output
from joinedup.contract.topics import CONSENT_EVENTS, agency_of_intake_topic, receipts_topic

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_statement_version (
    statement_id TEXT NOT NULL,
    version      INTEGER NOT NULL,
    event_type   TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (statement_id, version)
);
"""


class StatementLedger:
    """The statement versions this shard accepted, in the shard's connection (no commits of its own)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.executescript(f"BEGIN; {_SCHEMA} COMMIT;")

    def recorded(self, statement_id: str, version: int) -> StatementEvent | None:
        row = self._db.execute(
            "SELECT event_type, body FROM consent_statement_version WHERE statement_id = ? AND version = ?",
            (statement_id, version),
        ).fetchone()
        if row is None:
            return None
        event = EVENT_TYPES[row[0]].model_validate_json(row[1])
        return event if isinstance(event, StatementEvent) else None

    def record(self, event: StatementEvent) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO consent_statement_version (statement_id, version, event_type, body) "
            "VALUES (?, ?, ?, ?)",
            (event.statement_id, event.version, type(event).__name__, event.model_dump_json()),
        )


class ConsentIntakeHandler:
    """The runtime's ``ShardHandler`` for consent intake."""

    def __init__(
        self,
        db: sqlite3.Connection,
        codes: KnownCodes,
        *,
        future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    ) -> None:
        self._ledger = StatementLedger(db)
        self._codes = codes
        self._future_tolerance = future_tolerance

    def handle(self, inputs: Sequence[Input]) -> list[Output]:
        outputs: list[Output] = []
        for item in inputs:
            agency = agency_of_intake_topic(item.topic)
            if agency is not None and isinstance(item.record, ConsentStatement):
                outputs.extend(self._one(item, item.record, agency))
        return outputs

    def _outcome(self, submission: ConsentStatement, agency: str, received_at: datetime) -> IntakeOutcome:
        try:
            statement = statement_from_intake(submission)
        except CommandRejectedError as error:
            return IntakeOutcome(rejection=Rejection.of(error))
        recorded = self._ledger.recorded(statement.statement_id, statement.version)
        return review_statement(
            statement,
            ConsentState.fold([recorded] if recorded is not None else []),
            topic_agency=agency,
            now=received_at,
            codes=self._codes,
            future_tolerance=self._future_tolerance,
        )

    def _one(self, item: Input, submission: ConsentStatement, agency: str) -> list[Output]:
        received_at = from_kafka_timestamp(item.timestamp_ms)
        receipts = receipts_topic(agency)
        outcome = self._outcome(submission, agency, received_at)
        if outcome.rejection is not None:
            rejection = outcome.rejection
            rejected = rejected_receipt(
                submission,
                topic_agency=agency,
                reason_code=rejection.reason_code,
                field=rejection.field,
                message=rejection.message,
                received_at=received_at,
                source=(item.topic, item.partition, item.offset),
            )
            return [Output(receipts, submission.statement_ref, rejected)]
        provenance = Provenance(
            recorded_at=received_at,
            correlation_id=submission.envelope.correlation_id,
            causation_id=submission.envelope.event_id,
            source_agency=agency,
        )
        outputs: list[Output] = []
        for event in outcome.events:
            self._ledger.record(event)
            outputs.append(Output(CONSENT_EVENTS, event_key(event), to_avro(event, provenance)))
        receipt = accepted_receipt(
            submission, topic_agency=agency, event_ids=outcome.event_ids, received_at=received_at
        )
        outputs.append(Output(receipts, submission.statement_ref, receipt))
        return outputs
