"""R5 (consent): statements whose versions reach the consent service out of order, its worker as a process,
and the pure references to check it against.

- :func:`consent_statements`: for each of a set of invented records, a consent statement (v1 given, v2
  withdrawn, for some a v3 given again with an end date), for some an objection (v1) later lifted (v2), for
  some a withdrawal that is a statement of its own. Their natural order: by statement, by version.
- :func:`out_of_order`: the same statements in two rounds, later versions first (v3 before v2, both in the
  first round; every v1 in the second), with some sent twice in each round.
- :func:`consent_fold`: the expected outputs of the consent intake worker, from its shard handler
  (``ConsentIntakeHandler`` over an in-memory SQLite) fed the intake log per shard, in offset order.
- :func:`core_decisions`: the pure decision core (``ConsentState.fold`` + ``decide_many``) over the
  statements' canonical events in their natural order.
- :class:`ConsentWorker`: ``joinedup run consent`` as a process (intake worker, decision state, API).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from joinedup.consent.adapters.intake_shard import ConsentIntakeHandler
from joinedup.consent.adapters.mapping import statement_from_intake
from joinedup.consent.adapters.submissions import consent_submission
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.domain.decision import Decision, Question, decide_many
from joinedup.consent.domain.intake import statement_event
from joinedup.consent.domain.scope import RecordRef
from joinedup.consent.domain.state import ConsentState
from joinedup.contract.models.intake import ConsentStatement
from joinedup.contract.streams import Output
from joinedup.contract.topics import CONSENT_EVENTS
from joinedup.local.broker import free_port

from .harness import Expected, LogRecord, OutputId, fold_in_order, shard_store_progress

OWNERS = ("nhs-mh-trust", "council-asc", "probation")
RECIPIENTS = ("council-housing", "jobcentre")
PURPOSES = ("care-coordination", "housing-support")
CATEGORY = "mental-health"
INTAKE_GROUP = "joinedup.consent.intake"
"""The consent intake worker's consumer group (dead-letter ids derive from it)."""


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


QUESTION_TIMES = tuple(
    day(d)
    for d in (
        "2026-01-05",
        "2026-01-20",
        "2026-02-10",
        "2026-02-20",
        "2026-03-15",
        "2026-04-15",
        "2026-05-15",
        "2026-10-01",
    )
)
"""Before anything, between every two versions' effective times, and after the last end date."""


@dataclass(frozen=True)
class Statement:
    agency: str
    submission: ConsentStatement

    @property
    def order(self) -> tuple[str, int]:
        return (f"{self.agency}/{self.submission.statement_ref}", self.submission.version)


def _statement(
    who: tuple[str, str], ref: str, version: int, kind: str, at: str, scope: Mapping[str, Any]
) -> Statement:
    agency, person = who
    options = dict(scope)
    valid_from = day(options.pop("valid_from", "2026-01-01"))
    submission = consent_submission(
        agency=agency,
        person=person,
        ref=ref,
        kind=kind,
        version=version,
        occurred_at=day(at),
        valid_from=valid_from,
        **options,
    )
    return Statement(agency, submission)


def consent_statements(records: int) -> list[Statement]:
    """Every statement version about ``records`` invented records, in natural order."""
    out: list[Statement] = []
    consent = {"recipients": ["council-housing"], "purposes": list(PURPOSES), "categories": [CATEGORY]}
    objection = {"recipients": ["council-housing"], "purposes": ["housing-support"]}
    for i in range(records):
        who = (OWNERS[i % len(OWNERS)], f"CP-{i}")
        out.append(_statement(who, f"C-{i}", 1, "given", "2026-01-10", consent))
        out.append(_statement(who, f"C-{i}", 2, "withdrawn", "2026-03-01", consent))
        if i % 2 == 0:
            again = {**consent, "valid_from": "2026-05-01", "valid_until": day("2026-09-01")}
            out.append(_statement(who, f"C-{i}", 3, "given", "2026-05-01", again))
        if i % 4 == 1:
            out.append(_statement(who, f"O-{i}", 1, "objection", "2026-02-01", objection))
            out.append(_statement(who, f"O-{i}", 2, "objection-lifted", "2026-04-01", objection))
        if i % 5 == 2:
            out.append(_statement(who, f"W-{i}", 1, "withdrawn", "2026-02-15", {"recipients": ["jobcentre"]}))
        if i % 3 == 0:
            jobs = {"recipients": ["jobcentre"], "purposes": ["care-coordination"]}
            out.append(_statement(who, f"J-{i}", 1, "given", "2026-01-15", jobs))
    return sorted(out, key=lambda s: s.order)


def out_of_order(statements: Sequence[Statement]) -> list[list[Statement]]:
    """Two rounds: every version above 1, highest first, and the standalone withdrawals; then every v1.
    Every 5th statement of round 1 is sent twice in it, every 7th is sent again in round 2."""
    later = sorted(
        (s for s in statements if s.submission.version > 1 or s.submission.kind == "withdrawn"),
        key=lambda s: (s.order[0], -s.order[1]),
    )
    moved = {s.order for s in later}
    first = [s for s in statements if s.order not in moved]
    round_1 = [x for n, s in enumerate(later) for x in ([s, s] if n % 5 == 0 else [s])]
    round_2 = first + [s for n, s in enumerate(later) if n % 7 == 3]
    return [round_1, round_2]


def questions(statements: Iterable[Statement]) -> list[Question]:
    """For every record: each recipient, purpose and time."""
    records = sorted({(s.agency, s.submission.subject.local_person_id) for s in statements})
    return [
        Question(
            subject_records=(RecordRef(agency=agency, local_person_id=person),),
            owner=agency,
            recipient=recipient,
            purpose=purpose,
            category=CATEGORY,
            at=at,
        )
        for agency, person in records
        for recipient in RECIPIENTS
        for purpose in PURPOSES
        for at in QUESTION_TIMES
    ]


def core_decisions(statements: Sequence[Statement], asked: Sequence[Question]) -> list[Decision]:
    """The pure decision core over the statements' canonical events, in natural order."""
    ordered = sorted(statements, key=lambda s: s.order)
    state = ConsentState.fold(statement_event(statement_from_intake(s.submission)) for s in ordered)
    return decide_many(state, asked, override_purposes=known_codes().override_purposes)


# ---------------------------------------------------------------- the expected outputs


def _output_id(output: Output) -> OutputId:
    kind = "events" if output.topic == CONSENT_EVENTS else "receipts"
    envelope = getattr(output.record, "envelope", None)
    assert envelope is not None, output
    return (kind, str(envelope.event_id))


def consent_fold(log: Sequence[LogRecord], names: Mapping[str, str], group: str = INTAKE_GROUP) -> Expected:
    """The consent intake shard handler over ``log``: one handler (and in-memory ledger) per shard, each
    intake partition in offset order (statements are keyed by statement: all versions of one share a
    partition, and no statement depends on another topic)."""
    return fold_in_order(
        sorted(log, key=lambda r: (r.partition, r.topic, r.offset)),
        lambda: ConsentIntakeHandler(sqlite3.connect(":memory:", isolation_level=None), known_codes()),
        names,
        group,
        output_id=_output_id,
    )


# ---------------------------------------------------------------- the worker process


TOKEN = "r5-service-token"


class ConsentWorker:
    """``joinedup run consent`` over one data folder and topic prefix: the intake worker, the decision-state
    follower and the API (on a free port), as one process."""

    def __init__(self, bootstrap: str, prefix: str, data_dir: Path, logs: Path, batch_size: int = 50) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        tokens = data_dir / "tokens.yaml"
        tokens.write_text(f"tokens:\n  {TOKEN}: {{agency: joinedup, user: r5, role: service}}\n")
        self.port = free_port()
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JOINEDUP_CONSENT_DATA_DIR": str(data_dir),
            "JOINEDUP_CONSENT_TOPIC_PREFIX": prefix,
            "JOINEDUP_CONSENT_API_PORT": str(self.port),
            "JOINEDUP_CONSENT_TOKENS_FILE": str(tokens),
            "JOINEDUP_CONSENT_BATCH_SIZE": str(batch_size),
        }
        self.data_dir = data_dir
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cli = Path(sys.executable).with_name("joinedup")
        with (self.logs / "consent.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(cli), "run", "consent"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def running(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, (
            "the consent worker stopped:\n" + (self.logs / "consent.log").read_text()[-3000:]
        )

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)

    def _db(self, name: str) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.data_dir / 'consent' / name}?mode=ro", uri=True, timeout=30)

    def intake_progress(self, topics: Sequence[str]) -> tuple[int, int]:
        """(intake records the shard stores committed, outbox rows waiting)."""
        return shard_store_progress(sorted((self.data_dir / "consent").glob("shard-*.sqlite")), topics)

    def folded(self) -> int:
        """Consent events the decision state holds (distinct ids)."""
        if not (self.data_dir / "consent" / "decision-state.sqlite").exists():
            return 0
        db = self._db("decision-state.sqlite")
        try:
            return int(db.execute("SELECT count(*) FROM processed_input").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()

    def wait_caught_up(self, topics: Sequence[str], total: int, events: int, timeout_s: float = 180) -> float:
        """Until every intake record is consumed, every outbox empty and the decision state holds
        ``events`` consent events; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            self.running()
            consumed, pending = self.intake_progress(topics)
            if consumed >= total and pending == 0 and self.folded() >= events:
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(
            f"the consent worker did not catch up: {self.intake_progress(topics)} of {total}, "
            f"{self.folded()} of {events} events folded"
        )

    def decisions(self, asked: Sequence[Question], batch: int = 500) -> list[Decision]:
        """The API's answers (``POST /v1/decisions``), ``batch`` questions a call."""
        answers: list[Decision] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the consent API did not come up"
                time.sleep(0.2)
            for start in range(0, len(asked), batch):
                body = {"questions": [q.model_dump(mode="json") for q in asked[start : start + batch]]}
                response = http.post("/v1/decisions", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
                assert response.status_code == 200, response.text[:500]
                answers.extend(Decision.model_validate(d) for d in response.json()["decisions"])
        return answers
