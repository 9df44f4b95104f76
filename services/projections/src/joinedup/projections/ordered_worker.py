"""One ordered worker over every partition of its inputs (no sharding, no consumer group).

It assigns itself every partition of its input topics and resumes at the offsets in its own store, merges
them in one deterministic order (identity/input_order.py), and runs batches through the shared runtime's
:class:`ShardProcessor`: the handler's state, the consumed offsets and the outbox commit in one SQLite
transaction per batch. The runtime's :class:`Relay` publishes the outbox with a transactional producer (its
``transactional_id`` fences a zombie worker) and records how far it got in the same Kafka transaction, so
``read_committed`` readers see every output exactly once whenever the worker is killed.

The identity resolver (identity/worker.py) and the person view (person_view/worker.py) are such workers: each
needs all of its inputs in one place, and its inputs are not co-partitioned.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import UnknownTopicOrPartitionError  # type: ignore[import-untyped]

from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.streams import RawRecord, Relay, ShardHandler, ShardProcessor
from joinedup.projections.identity.input_order import OrderedMerge, Partition


@dataclass(frozen=True)
class WorkerRole:
    """What one ordered worker is: its name, inputs and the Kafka names of its relay."""

    name: str
    """``projections.identity``: client ids are ``<client_id>.<name>[-relay|-positions]``."""
    inputs: tuple[str, ...]
    """Catalog names of the input topics (every partition of each is read)."""
    reader: str
    """Named like a consumer group in dead letters; the worker joins no group."""
    relay_group: str
    transactional_id: str
    source: str
    """The CloudEvents ``ce_source`` of its outputs."""
    anchor: str
    """Catalog name of the topic whose partition 0 carries the relay's position (in ``relay_group``)."""


@dataclass(frozen=True)
class OrderedWorkerConfig:
    bootstrap: str
    data_dir: Path
    topic_names: Mapping[str, str] = field(default_factory=dict)
    max_batch: int = 500
    poll_timeout_ms: int = 100
    fetch_records: int = 2000
    """The most records one poll returns (more than a batch: the merge needs a head from every partition)."""
    max_buffered: int = 5000
    """Per partition: a partition with this many records waiting is paused until the merge drains it."""
    durable: bool = False
    client_id: str = "joinedup"
    measure: bool = False

    def real(self, name: str) -> str:
        return self.topic_names.get(name, name)


class OrderedWorker:
    """Consumes, merges, handles and relays until ``stop`` is set. Subclasses build the handler."""

    def __init__(
        self,
        role: WorkerRole,
        config: OrderedWorkerConfig,
        store: ShardStore,
        handler: ShardHandler,
        codec: Codec | None = None,
    ) -> None:
        self.role = role
        self.config = config
        self.codec = codec or default_codec()
        self.store = store
        self.processor = ShardProcessor(
            self.store,
            handler,
            topic_names=config.topic_names,
            group=role.reader,
            source=role.source,
            codec=self.codec,
        )
        self.processed = 0
        self.caught_up = asyncio.Event()
        """Set while every input partition is read to its end and the outbox is empty."""
        gc.collect()
        gc.freeze()  # the loaded state is long-lived: keep full collections off the handler's p99

    def close(self) -> None:
        self.store.close()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        config, role = self.config, self.role

        def producer() -> AIOKafkaProducer:
            return AIOKafkaProducer(
                bootstrap_servers=config.bootstrap,
                client_id=f"{config.client_id}.{role.name}-relay",
                transactional_id=role.transactional_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                max_batch_size=262_144,
            )

        positions = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap,
            group_id=role.relay_group,
            client_id=f"{config.client_id}.{role.name}-positions",
            enable_auto_commit=False,
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap,
            group_id=None,
            client_id=f"{config.client_id}.{role.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        relay = Relay(
            self.store,
            producer,
            positions,
            anchor=TopicPartition(config.real(role.anchor), 0),
            group=role.relay_group,
        )
        await positions.start()
        try:
            relay.start()
            try:
                await consumer.start()
                try:
                    merge = await self._assign(consumer)
                    await self._loop(consumer, relay, merge, stop)
                finally:
                    await consumer.stop()
            finally:
                await relay.stop()
        finally:
            await positions.stop()

    async def replay(self) -> int:
        """Read every input to its current end into the store, publishing nothing (the outbox keeps what
        the batches produced: a worker's relay later skips what its position says was published). Returns
        how many records were processed."""
        config = self.config
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap,
            group_id=None,
            client_id=f"{config.client_id}.{self.role.name}-replay",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            merge = await self._assign(consumer)
            await self._loop(consumer, None, merge, asyncio.Event(), until_caught_up=True)
        finally:
            await consumer.stop()
        return self.processed

    async def _assign(self, consumer: AIOKafkaConsumer) -> OrderedMerge:
        assigned: list[TopicPartition] = []
        for name in self.role.inputs:
            topic = self.config.real(name)
            assigned.extend(TopicPartition(topic, p) for p in await self._partitions(topic))
        consumer.assign(assigned)
        stored = self.store.next_offsets()
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        catalog = {self.config.real(name): name for name in self.role.inputs}
        return OrderedMerge(((tp.topic, tp.partition) for tp in assigned), catalog)

    async def _partitions(self, topic: str) -> list[int]:
        """The topic's partitions (a plain producer's metadata look-up waits for a topic just created)."""
        looker = AIOKafkaProducer(
            bootstrap_servers=self.config.bootstrap, client_id=f"{self.config.client_id}.{self.role.name}"
        )
        await looker.start()
        try:
            partitions: set[int] = await looker.partitions_for(topic)
        except UnknownTopicOrPartitionError:
            raise RuntimeError(f"topic {topic} does not exist (run `joinedup topics apply`)") from None
        finally:
            await looker.stop()
        return sorted(partitions)

    async def _loop(
        self,
        consumer: AIOKafkaConsumer,
        relay: Relay | None,
        merge: OrderedMerge,
        stop: asyncio.Event,
        *,
        until_caught_up: bool = False,
    ) -> None:
        config = self.config
        ends: dict[Partition, int] = {}
        while not stop.is_set():
            failed = relay.failed if relay is not None else None
            if failed is not None:
                raise RuntimeError(f"the {self.role.name} relay failed") from failed
            batch = await consumer.getmany(
                timeout_ms=config.poll_timeout_ms, max_records=config.fetch_records
            )
            for tp in sorted(batch):
                merge.add(
                    RawRecord(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value) for m in batch[tp]
                )
            self._pause_full(consumer, merge)
            caught_up = await self._caught_up(consumer, merge, ends)
            while released := merge.release(caught_up, config.max_batch):
                self.caught_up.clear()
                self.processor.process(released)
                self.processed += len(released)
                gc.freeze()  # what the batch left is long-lived state: keep it out of full collections
                if relay is not None:
                    relay.wake()
                self._pause_full(consumer, merge)
                if len(released) < config.max_batch:
                    break
                await asyncio.sleep(0)  # let the relay publish while the next batch waits
            drained = not any(merge.buffered(p) for p in merge.partitions)
            if len(caught_up) == len(merge.partitions) and drained:
                if until_caught_up:
                    return
                if self.store.pending() == 0:
                    self.caught_up.set()

    def _pause_full(self, consumer: AIOKafkaConsumer, merge: OrderedMerge) -> None:
        for topic, partition in merge.partitions:
            tp = TopicPartition(topic, partition)
            full = merge.buffered((topic, partition)) >= self.config.max_buffered
            if full and tp not in consumer.paused():
                consumer.pause(tp)
            elif not full and tp in consumer.paused():
                consumer.resume(tp)

    async def _caught_up(
        self, consumer: AIOKafkaConsumer, merge: OrderedMerge, ends: dict[Partition, int]
    ) -> set[Partition]:
        """The partitions whose every committed record has been buffered (position at the end offset)."""
        positions = {p: int(await consumer.position(TopicPartition(*p))) for p in merge.partitions}
        unsure = [p for p in merge.partitions if positions[p] >= ends.get(p, 0)]
        if unsure:
            fresh: Mapping[TopicPartition, int] = await consumer.end_offsets(
                [TopicPartition(*p) for p in unsure]
            )
            for tp, end in fresh.items():
                ends[(tp.topic, tp.partition)] = int(end)
        return {p for p in merge.partitions if positions[p] >= ends.get(p, 0)}
