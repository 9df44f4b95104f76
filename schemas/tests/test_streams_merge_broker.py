"""The stream runtime against a real broker: a shard's intake partitions are merged by broker timestamp, and
the intake topics take the broker's clock, not the producer's."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from kafka import KafkaProducer, TopicPartition

from joinedup.contract.examples import example
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.models.intake import ContactRecord
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import Input, Output, RuntimeConfig, StreamRuntime
from joinedup.contract.topics import catalog, intake_topic

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]

A_YEAR_AGO_MS = int(time.time() * 1000) - 365 * 86_400_000


class Recorder:
    """Writes down the coordinates of every input, in the order the runtime hands them over."""

    def __init__(self, seen: list[tuple[str, int]]) -> None:
        self.seen = seen

    def handle(self, inputs: Sequence[Input]) -> list[Output]:
        self.seen.extend((i.topic, i.offset) for i in inputs)
        return []


def publish(sender: KafkaProducer, topic: str, count: int) -> None:
    value = default_codec().encode(example(ContactRecord))
    for n in range(count):
        sender.send(topic, value=value, key=b"k", partition=0, timestamp_ms=A_YEAR_AGO_MS + n)
    sender.flush(timeout=30)
    time.sleep(0.01)  # the next topic's records get later broker timestamps


def test_a_shard_handles_its_intake_topics_in_broker_timestamp_order_not_topic_order(
    kafka_bootstrap: str, catalog_topics: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    police, probation = intake_topic("police"), intake_topic("probation")
    sender = producer(kafka_bootstrap, "test-merge")
    try:
        publish(sender, catalog_topics[probation], 3)  # first, though "police" sorts first
        publish(sender, catalog_topics[police], 3)
        publish(sender, catalog_topics[probation], 2)
    finally:
        sender.close(timeout=10)
    reader = consumer(kafka_bootstrap, None, "test-merge-reader")
    try:
        tp = TopicPartition(catalog_topics[police], 0)
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        polled = reader.poll(timeout_ms=10_000, max_records=1)
    finally:
        reader.close()
    (first,) = polled[tp]
    assert first.timestamp_type == 1  # LogAppendTime
    assert first.timestamp > A_YEAR_AGO_MS + 86_400_000  # the broker's clock, not the producer's

    seen: list[tuple[str, int]] = []
    runtime = StreamRuntime(
        RuntimeConfig(
            service="mergetest",
            purpose="intake",
            inputs=(police, probation),
            bootstrap=kafka_bootstrap,
            data_dir=tmp_path,
            topic_names=catalog_topics,
            max_batch=2,
            namespace=unique_prefix,
        ),
        lambda connection, index: Recorder(seen),
    )
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(runtime.run(stop)), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert seen == [
        (probation, 0),
        (probation, 1),
        (probation, 2),
        (police, 0),
        (police, 1),
        (police, 2),
        (probation, 3),
        (probation, 4),
    ]


def test_an_intake_topic_made_with_the_producers_clock_is_switched_to_the_brokers_and_only_that_changes(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    spec = catalog().renamed(unique_prefix)[intake_topic("police")]
    admin = admin_client(kafka_bootstrap)
    try:
        assert apply_topics(admin, [spec.model_copy(update={"timestamps": "producer"})]).ok
        report = apply_topics(admin, [spec])
        again = apply_topics(admin, [spec])
        shrunk = apply_topics(admin, [spec.model_copy(update={"retention": "1d"})])
    finally:
        admin.close()
    assert report.ok
    assert report.altered == {spec.name: ["message.timestamp.type: CreateTime -> LogAppendTime"]}
    assert again.unchanged == [spec.name]
    assert again.altered == {}
    assert not shrunk.ok, "a retention change is reported, never applied"
    assert list(shrunk.drift) == [spec.name]
    assert shrunk.altered == {}
