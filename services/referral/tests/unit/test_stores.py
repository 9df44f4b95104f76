"""One set of store tests, run against every backend (the in-memory fake and SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.models import intake as contract_intake
from joinedup.contract.streams import Input
from joinedup.contract.topics import intake_topic
from joinedup.referral.adapters.intake_stream import IntakeShardHandler, NotAnIntakeTopic
from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.adapters.store_sqlite import SqliteReferralStore
from joinedup.referral.app.ports import ReferralStore
from joinedup.referral.app.reference import default_reference_data
from joinedup.referral.app.testing import (
    NOW,
    RECEIVER,
    REFERRER,
    Scenario,
    a_contact,
    a_referral,
    a_response,
    an_assessment,
)
from joinedup.referral.domain.events import (
    AssessmentScheduled,
    ContactRecorded,
    ReferralAccepted,
    ReferralClosed,
    ReferralReceived,
)
from joinedup.referral.domain.model import IncomingKey, RecordKey, ReferralKey, ReferralStatus
from joinedup.referral.domain.submissions import ReferralSubmission, submission_key

INTAKE = ("joinedup.intake.probation", 0)
LIFECYCLE = (
    (REFERRER, a_referral()),
    (RECEIVER, a_response("accept")),
    (RECEIVER, an_assessment("scheduled")),
    (RECEIVER, a_response("close")),
    ("police", a_contact()),
)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReferralStore]:
    if request.param == "memory":
        yield MemoryReferralStore()
        return
    with SqliteReferralStore(tmp_path / "referral.db") as sqlite_store:
        yield sqlite_store


def test_the_lifecycle_runs_the_same_on_every_backend(store: ReferralStore) -> None:
    scenario = Scenario(store).when_all(LIFECYCLE)
    assert [type(e) for e in scenario.events] == [
        ReferralReceived,
        ReferralAccepted,
        AssessmentScheduled,
        ReferralClosed,
        ContactRecorded,
    ]
    reference = Scenario(MemoryReferralStore()).when_all(LIFECYCLE)
    assert [o.model_dump() for o in scenario.outcomes] == [o.model_dump() for o in reference.outcomes]


def test_staged_writes_are_visible_before_commit_and_gone_after_rollback(store: ReferralStore) -> None:
    Scenario(store).when(REFERRER, a_referral())
    assert store.referral(ReferralKey(REFERRER, "R-1")) is not None
    store.rollback()
    assert store.referral(ReferralKey(REFERRER, "R-1")) is None
    assert store.offsets() == {}


def test_a_commit_keeps_state_idempotency_records_and_offsets_together(store: ReferralStore) -> None:
    Scenario(store).when_all(LIFECYCLE)
    store.commit({INTAKE: 1, ("joinedup.intake.council-housing", 2): 7})
    store.rollback()  # nothing left to roll back
    referral = store.referral(ReferralKey(REFERRER, "R-1"))
    assert referral is not None
    assert referral.status is ReferralStatus.CLOSED
    assert store.contact(RecordKey("police", "C-1")) is not None
    assert store.assessment(RecordKey(RECEIVER, "A-1")) is not None
    assert store.offsets() == {INTAKE: 1, ("joinedup.intake.council-housing", 2): 7}
    Scenario(store).when(REFERRER, a_referral()).then_duplicate()


def test_a_later_commit_moves_an_offset_on(store: ReferralStore) -> None:
    store.commit({INTAKE: 1})
    store.commit({INTAKE: 5})
    assert store.offsets() == {INTAKE: 5}


def test_a_referral_is_found_by_its_receiver_and_reference(store: ReferralStore) -> None:
    Scenario(store).when(REFERRER, a_referral())
    found = store.referral_sent_to(IncomingKey(RECEIVER, "R-1"))
    assert found is not None
    assert found.referring_agency == REFERRER
    assert store.referral_sent_to(IncomingKey("police", "R-1")) is None


def test_sqlite_state_survives_a_restart_only_if_committed(tmp_path: Path) -> None:
    path = tmp_path / "referral.db"
    with SqliteReferralStore(path) as first:
        Scenario(first).when(REFERRER, a_referral())
        first.commit({INTAKE: 1})
        Scenario(first).when(REFERRER, a_referral("R-2"))  # staged, never committed: the worker dies
    with SqliteReferralStore(path) as second:
        assert second.offsets() == {INTAKE: 1}
        assert second.referral(ReferralKey(REFERRER, "R-1")) is not None
        assert second.referral(ReferralKey(REFERRER, "R-2")) is None
        Scenario(second).when(REFERRER, a_referral()).then_duplicate()


def _shard_input(agency: str, submission: ReferralSubmission, offset: int) -> Input:
    record = contract_intake.ReferralSubmission.model_validate(submission.model_dump())
    return Input(intake_topic(agency), 0, offset, to_kafka_timestamp(NOW), None, record)


def test_a_shard_batch_writes_its_buffered_rows_into_the_shared_transaction(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "shard.db", isolation_level=None)
    handler = IntakeShardHandler(SqliteReferralStore(db), default_reference_data())
    db.execute("BEGIN IMMEDIATE")
    handler.handle(
        [_shard_input(REFERRER, a_referral("R-1"), 0), _shard_input(REFERRER, a_referral("R-2"), 1)]
    )
    db.execute("COMMIT")
    rows = db.execute("SELECT referral_ref FROM referrals ORDER BY referral_ref").fetchall()
    assert rows == [("R-1",), ("R-2",)]
    assert db.execute("SELECT count(*) FROM processed").fetchone()[0] == 2


def test_a_failed_shard_batch_leaves_no_buffered_rows_behind(tmp_path: Path) -> None:
    store = SqliteReferralStore(sqlite3.connect(tmp_path / "shard.db", isolation_level=None))
    handler = IntakeShardHandler(store, default_reference_data())
    foreign = replace(_shard_input(REFERRER, a_referral("R-2"), 1), topic="joinedup.referral.events")
    with pytest.raises(NotAnIntakeTopic):
        handler.handle([_shard_input(REFERRER, a_referral("R-1"), 0), foreign])
    assert store.referral(ReferralKey(REFERRER, "R-1")) is None
    assert store.processed(submission_key(a_referral("R-1"), REFERRER)) is None
