"""The person view under the stream runtime's shard processor (no broker): state, offsets and alerts commit
together; a redelivered batch changes nothing."""

from __future__ import annotations

from pathlib import Path

from joinedup.contract.envelope import from_kafka_timestamp, to_kafka_timestamp
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.models.event import Event
from joinedup.contract.models.referral import AssessmentCompleted, AssessmentScheduled
from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import RawRecord, ShardProcessor
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS
from joinedup.projections.person_view import event_factory as f
from joinedup.projections.person_view.canonical_hash import view_state_hash
from joinedup.projections.person_view.shard_handler import person_view_handler

S9 = "care-act-s9-needs"


def raw(topic: str, offset: int, event: Event, delay_seconds: int = 5) -> RawRecord:
    timestamp = to_kafka_timestamp(event.envelope.occurred_at) + delay_seconds * 1000
    return RawRecord(topic, 0, offset, timestamp, b"key", default_codec().encode(event))


def batch() -> list[RawRecord]:
    return [
        raw(IDENTITY_EVENTS, 0, f.person_created("P1", "council-asc", "A1")),
        raw(IDENTITY_EVENTS, 1, f.record_linked("P1", "probation", "Z1", to=("council-asc", "A1"))),
        raw(
            REFERRAL_EVENTS,
            0,
            f.assessment(AssessmentCompleted, "council-asc", "AS1", "A1", S9, when=f.at(3)),
        ),
        raw(REFERRAL_EVENTS, 1, f.assessment(AssessmentScheduled, "probation", "B1", "Z1", S9, when=f.at(9))),
        RawRecord(REFERRAL_EVENTS, 0, 2, 0, None, b"not avro"),
    ]


def test_a_batch_commits_the_view_the_offsets_and_the_alert_together(tmp_path: Path) -> None:
    with ShardStore(tmp_path / "shard-0.sqlite") as shard:
        handler = person_view_handler(shard.connection, 0)
        processor = ShardProcessor(
            shard, handler, topic_names={}, group="joinedup.projections.person-view", source="t"
        )
        result = processor.process(batch())
        assert result.dead_letters == 1
        assert shard.next_offsets() == {(IDENTITY_EVENTS, 0): 2, (REFERRAL_EVENTS, 0): 3}
        published = [default_codec().decode(row.publication.value) for row in shard.unsent(1, 10)]
        alerts = [p for p in published if isinstance(p, RepeatAssessmentDetected)]
        (alert,) = alerts
        assert alert.person_id == "P1"
        assert alert.envelope.recorded_at == from_kafka_timestamp(batch()[3].timestamp_ms)
        topics = [row.publication.topic for row in shard.unsent(1, 10)]
        assert ALERTS in topics
        assert handler.store.person_of_record("probation", "Z1") == "P1"


def test_a_redelivered_batch_is_skipped_and_changes_nothing(tmp_path: Path) -> None:
    with ShardStore(tmp_path / "shard-0.sqlite") as shard:
        handler = person_view_handler(shard.connection, 0)
        processor = ShardProcessor(
            shard, handler, topic_names={}, group="joinedup.projections.person-view", source="t"
        )
        processor.process(batch())
        before, pending = view_state_hash(handler.store), shard.pending()
        again = processor.process(batch())
        assert again.stale
        assert (view_state_hash(handler.store), shard.pending()) == (before, pending)
