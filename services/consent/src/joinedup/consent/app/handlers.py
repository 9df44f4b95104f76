"""The consent service's use cases, behind ports: load state -> decide -> events (and commit).

Three flows, each wired to Kafka elsewhere:

- **intake**: an agency's ``ConsentStatement`` (already decoded) -> an ``IntakeOutcome``: the canonical
  event to publish on ``joinedup.consent.events`` and the receipt to send back. Nothing is committed here:
  the state changes only when the published event is consumed back (``apply``), so the store never holds an
  event that was not published. Duplicate and conflict checks see the state as far as it has been consumed;
  deterministic event ids make a duplicate published in that window harmless.
- **DPO commands**: ``register_agreement`` / ``end_agreement`` -> events to publish, or a named error.
- **projection**: ``apply`` a batch of consumed consent events: state, processed event ids and offsets in
  one store commit. Duplicates change nothing.

And the decision point: ``decide_many``, ``trail``, ``in_force_at`` read the current state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from joinedup.consent.app.ports import ConsentStore, StoreCommit, TopicPartition
from joinedup.consent.domain import decision, intake
from joinedup.consent.domain.codes import KnownCodes
from joinedup.consent.domain.commands import ConsentStatement, EndSharingAgreement, RegisterSharingAgreement
from joinedup.consent.domain.errors import CommandRejectedError
from joinedup.consent.domain.events import AgreementEvent, ConsentEvent, StatementEvent
from joinedup.consent.domain.scope import RecordRef
from joinedup.consent.domain.state import ConsentState
from joinedup.consent.domain.trail import ConsentTrail, PointInTimeView, in_force_at, trail


@dataclass(frozen=True)
class Position:
    """Where a consumed message was: topic, partition, offset."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class ConsumedEvent:
    """A decoded consent event and where it was consumed from."""

    event: ConsentEvent
    position: Position


class Rejection(BaseModel):
    """Why a submission was rejected, as the receipt carries it (no personal data)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason_code: str
    field: str
    message: str

    @classmethod
    def of(cls, error: CommandRejectedError) -> Rejection:
        return cls(reason_code=error.reason_code, field=error.field, message=error.message)


class IntakeOutcome(BaseModel):
    """What to do with one submission: publish ``events`` (empty for a duplicate) and send a receipt —
    accepted naming ``event_ids``, or rejected with ``rejection``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_ids: tuple[str, ...] = ()
    events: tuple[StatementEvent, ...] = ()
    rejection: Rejection | None = None

    @property
    def accepted(self) -> bool:
        return self.rejection is None


def review_statement(
    statement: ConsentStatement,
    state: ConsentState,
    *,
    topic_agency: str,
    now: datetime,
    codes: KnownCodes,
    future_tolerance: timedelta = intake.DEFAULT_FUTURE_TOLERANCE,
) -> IntakeOutcome:
    """The outcome of a statement against ``state`` (which needs to hold only the versions of this statement
    already recorded). Never raises for a bad statement: the outcome carries the rejection."""
    try:
        events = intake.accept_statement(
            statement,
            state,
            topic_agency=topic_agency,
            now=now,
            codes=codes,
            future_tolerance=future_tolerance,
        )
    except CommandRejectedError as error:
        return IntakeOutcome(rejection=Rejection.of(error))
    return IntakeOutcome(event_ids=(intake.statement_event(statement).event_id,), events=events)


class ConsentService:
    def __init__(
        self,
        store: ConsentStore,
        codes: KnownCodes,
        *,
        future_tolerance: timedelta = intake.DEFAULT_FUTURE_TOLERANCE,
    ) -> None:
        self._store = store
        self._codes = codes
        self._future_tolerance = future_tolerance

    # ------------------------------------------------------------------ intake and DPO commands

    def submit_statement(
        self, statement: ConsentStatement, *, topic_agency: str, now: datetime
    ) -> IntakeOutcome:
        """Validate a statement from ``topic_agency``'s intake topic, received at ``now`` (the Kafka
        timestamp). Never raises for a bad statement: the outcome carries the rejection."""
        return review_statement(
            statement,
            self._store.state(),
            topic_agency=topic_agency,
            now=now,
            codes=self._codes,
            future_tolerance=self._future_tolerance,
        )

    def register_agreement(self, command: RegisterSharingAgreement) -> tuple[AgreementEvent, ...]:
        """Events to publish for a DPO's registration; raises ``CommandRejectedError`` if it is invalid."""
        return intake.register_agreement(command, self._store.state(), codes=self._codes)

    def end_agreement(self, command: EndSharingAgreement) -> tuple[AgreementEvent, ...]:
        """Events to publish for a DPO's ending of an agreement; raises ``CommandRejectedError``."""
        return intake.end_agreement(command, self._store.state())

    # ------------------------------------------------------------------ projection

    def apply(self, batch: Sequence[ConsumedEvent], skipped: Sequence[Position] = ()) -> int:
        """Fold a consumed batch in and commit it with its offsets; returns how many events were new.
        ``skipped``: positions consumed that held no consent event (dead-lettered), so offsets pass them."""
        fresh: dict[str, ConsentEvent] = {}
        offsets: dict[TopicPartition, int] = {}
        for position in skipped:
            key = (position.topic, position.partition)
            offsets[key] = max(offsets.get(key, 0), position.offset + 1)
        for consumed in batch:
            event_id = consumed.event.event_id
            if event_id not in fresh and not self._store.is_processed(event_id):
                fresh[event_id] = consumed.event
            key = (consumed.position.topic, consumed.position.partition)
            offsets[key] = max(offsets.get(key, 0), consumed.position.offset + 1)
        self._store.commit(
            StoreCommit(events=tuple(fresh.values()), processed_ids=tuple(fresh), offsets=offsets)
        )
        return len(fresh)

    def agreement_history(self, agreement_id: str) -> tuple[AgreementEvent, ...]:
        """Every version of an agreement consumed so far, by version."""
        return self._store.state().agreement_history(agreement_id)

    def offsets(self) -> dict[TopicPartition, int]:
        """Where to resume consuming ``joinedup.consent.events`` (seek to these on partition assignment)."""
        return self._store.offsets()

    # ------------------------------------------------------------------ decision point

    def decide(self, question: decision.Question) -> decision.Decision:
        return decision.decide(self._store.state(), question, override_purposes=self._codes.override_purposes)

    def decide_many(self, questions: Iterable[decision.Question]) -> list[decision.Decision]:
        """One decision per question, in order, all against the same state."""
        return decision.decide_many(
            self._store.state(), questions, override_purposes=self._codes.override_purposes
        )

    def trail(self, subject_records: Sequence[RecordRef]) -> ConsentTrail:
        return trail(self._store.state(), subject_records)

    def in_force_at(self, subject_records: Sequence[RecordRef], at: datetime) -> PointInTimeView:
        return in_force_at(self._store.state(), subject_records, at)
