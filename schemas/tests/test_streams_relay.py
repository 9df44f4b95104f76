"""The outbox relay against a real broker: a crash at either side of the Kafka commit publishes nothing twice
and loses nothing (read_committed readers see each row exactly once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]

from joinedup.contract.kafka import consumer
from joinedup.contract.outbox import Publication, ShardStore
from joinedup.contract.streams import Relay
from joinedup.contract.topics import DEAD_LETTER

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]


def committed_values(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    reader = consumer(bootstrap, None, "test-relay-reader")
    try:
        from kafka import TopicPartition as SyncPartition

        parts = sorted(reader.partitions_for_topic(topic) or ())
        reader.assign([SyncPartition(topic, p) for p in parts])
        reader.seek_to_beginning()
        values: list[bytes] = []
        idle = 0
        while idle < 8 or len(values) < expected:
            batch = reader.poll(timeout_ms=250)
            idle = 0 if batch else idle + 1
            values.extend(m.value for records in batch.values() for m in records)
            if idle > 40:
                break
        return sorted(values)
    finally:
        reader.close()


async def with_relay(bootstrap: str, store: ShardStore, topic: str, txn_id: str, run: object) -> None:
    positions = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"{txn_id}.relay", enable_auto_commit=False
    )
    await positions.start()
    try:

        def producers() -> AIOKafkaProducer:
            return AIOKafkaProducer(
                bootstrap_servers=bootstrap, transactional_id=txn_id, enable_idempotence=True
            )

        relay = Relay(store, producers, positions, anchor=TopicPartition(topic, 0), group=f"{txn_id}.relay")
        assert callable(run)
        await run(relay)
    finally:
        await positions.stop()


def test_a_crash_after_the_kafka_commit_but_before_the_local_mark_publishes_nothing_twice(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    topic = catalog_topics[DEAD_LETTER]
    txn_id = f"{topic}.relay-test-1"
    store = ShardStore(tmp_path / "shard.sqlite")
    store.append([Publication(topic, b"k", f"v{i}".encode()) for i in range(3)])

    async def crash_before_mark(relay: Relay) -> None:
        store.mark_sent = lambda below_seq: None  # type: ignore[method-assign]  # the process dies here
        relay.start()
        await relay.stop(timeout_s=60)

    asyncio.run(with_relay(kafka_bootstrap, store, topic, txn_id, crash_before_mark))
    assert store.pending() == 3  # Kafka has them, the store does not know
    del store.mark_sent  # back to the real method

    async def restart(relay: Relay) -> None:
        relay.start()
        store.append([Publication(topic, b"k", b"v3")])
        relay.wake()
        await relay.stop(timeout_s=60)

    asyncio.run(with_relay(kafka_bootstrap, store, topic, txn_id, restart))
    assert store.pending() == 0
    assert committed_values(kafka_bootstrap, topic, 4) == [b"v0", b"v1", b"v2", b"v3"]


def test_a_crash_inside_a_kafka_transaction_is_aborted_and_the_rows_are_published_once(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    topic = catalog_topics[DEAD_LETTER]
    txn_id = f"{topic}.relay-test-2"
    store = ShardStore(tmp_path / "shard.sqlite")
    store.append([Publication(topic, b"k", f"w{i}".encode()) for i in range(3)])

    async def die_mid_transaction() -> None:
        zombie = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=txn_id)
        await zombie.start()
        await zombie.begin_transaction()
        for row in store.unsent(1, 10):
            await zombie.send_and_wait(topic, row.publication.value, key=row.publication.key)
        # no commit: the process is killed here; a new relay must abort this transaction

    asyncio.run(die_mid_transaction())

    async def restart(relay: Relay) -> None:
        relay.start()
        await relay.stop(timeout_s=60)

    asyncio.run(with_relay(kafka_bootstrap, store, topic, txn_id, restart))
    assert store.pending() == 0
    assert committed_values(kafka_bootstrap, topic, 3) == [b"w0", b"w1", b"w2"]
