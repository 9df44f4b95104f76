"""On a real broker: a consumer routes every hostile message to the dead-letter topic and keeps going."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor

from joinedup.contract.dead_letters import Delivered, RoutingTally, consume_routing_dead_letters
from joinedup.contract.examples import HostileInput, hostile_inputs
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.keys import intake_key
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.intake import ReferralSubmission
from joinedup.contract.sdk import SubmissionBuilder
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import DEAD_LETTER, catalog, intake_topic

pytestmark = pytest.mark.broker

AGENCY = "police"
GOOD = 30


@pytest.fixture
def topics(kafka_bootstrap: str, unique_prefix: str) -> dict[str, str]:
    wanted = (intake_topic(AGENCY), DEAD_LETTER)
    renamed = catalog().renamed(unique_prefix)
    admin = admin_client(kafka_bootstrap)
    try:
        report = apply_topics(admin, [renamed[name] for name in wanted])
    finally:
        admin.close()
    assert report.ok, report.drift
    return {name: renamed[name].name for name in wanted}


def good_submissions() -> list[ReferralSubmission]:
    builder = SubmissionBuilder(AGENCY, clock=lambda: datetime(2026, 3, 2, 10, tzinfo=UTC))
    built = []
    for i in range(GOOD):
        record = builder.build(
            {
                "type": "ReferralSubmission",
                "referral_ref": f"POL-{i:04d}",
                "subject": {"local_person_id": f"P-{i}"},
                "to_agency": "council-housing",
                "need_codes": ["accommodation"],
                "urgency": "routine",
                "referred_at": "2026-03-02T09:30:15Z",
                "data_categories": ["identity"],
            }
        )
        assert isinstance(record, ReferralSubmission)
        built.append(record)
    return built


def read_dead_letters(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0) -> list[Any]:
    reader: KafkaConsumer = consumer(bootstrap, None, "joinedup-test-deadletter-reader")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        found: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < expected and time.monotonic() < deadline:
            for batch in reader.poll(timeout_ms=300).values():
                found.extend(batch)
        return found
    finally:
        reader.close()


def test_a_consumer_dead_letters_every_hostile_message_and_processes_every_good_one(
    kafka_bootstrap: str, unique_prefix: str, topics: dict[str, str]
) -> None:
    codec = default_codec()
    intake = topics[intake_topic(AGENCY)]
    corpus = hostile_inputs(codec)
    good = good_submissions()

    # Interleave: hostile inputs between good ones, on every partition, so the consumer must keep going.
    writer = producer(kafka_bootstrap, "joinedup-test-hostile-writer")
    good_ids = set()
    hostile_sends: list[tuple[HostileInput, Any]] = []
    for i, record in enumerate(good):
        writer.send(intake, key=intake_key(record, AGENCY).encode(), value=codec.encode(record))
        good_ids.add(record.envelope.event_id)
        if i < len(corpus):
            future = writer.send(intake, key=f"hostile/{i}".encode(), value=corpus[i].payload)
            hostile_sends.append((corpus[i], future))
    writer.flush()
    hostile_at: dict[tuple[int, int], HostileInput] = {}
    for hostile, future in hostile_sends:
        metadata = future.get(timeout=30)
        hostile_at[(metadata.partition, metadata.offset)] = hostile
    writer.close()
    assert len(hostile_at) == len(corpus)
    total = len(good) + len(corpus)

    group = f"{unique_prefix}joinedup.test.deadletters"
    source = consumer(
        kafka_bootstrap,
        group,
        "joinedup-test-router",
        partition_assignment_strategy=(RangePartitionAssignor,),
    )
    source.subscribe([intake])
    sink = producer(kafka_bootstrap, "joinedup-test-router")
    processed: list[Delivered] = []
    deadline = time.monotonic() + 60

    def done(tally: RoutingTally) -> bool:
        return tally.consumed >= total or time.monotonic() > deadline

    def handle(batch: Sequence[Delivered]) -> None:
        processed.extend(batch)

    try:
        tally = consume_routing_dead_letters(
            source,
            sink,
            handle,
            consumer_group=group,
            until=done,
            dead_letter_topic=topics[DEAD_LETTER],
            codec=codec,
        )
        committed = {
            p: source.committed(TopicPartition(intake, p)) for p in source.partitions_for_topic(intake)
        }
    finally:
        source.close()
        sink.close()

    assert tally.consumed == total
    assert tally.dead_lettered == len(corpus)
    assert all(isinstance(d.record, ReferralSubmission) for d in processed)
    assert {
        d.record.envelope.event_id for d in processed if isinstance(d.record, ReferralSubmission)
    } == good_ids
    assert len(processed) == len(good)
    assert sum(committed.values()) == total

    letters = read_dead_letters(kafka_bootstrap, topics[DEAD_LETTER], len(corpus))
    assert len(letters) == len(corpus)
    seen = set()
    for message in letters:
        letter = codec.decode_as(message.value, DeadLetter)
        hostile = hostile_at[(letter.source_partition, letter.source_offset)]
        assert letter.error_class == hostile.error.__name__, hostile.name
        assert letter.payload == hostile.payload
        assert letter.source_topic == intake
        assert letter.reason
        assert letter.consumer_group == group
        assert message.key == f"{intake}/{letter.source_partition}/{letter.source_offset}".encode()
        seen.add((letter.source_partition, letter.source_offset))
    assert seen == set(hostile_at)
