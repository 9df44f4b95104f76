"""One ordered worker over every partition of its inputs (no sharding, no consumer group).

It assigns itself every partition of its input topics and resumes at the offsets in its own store, merges
them in one deterministic order (identity/input_order.py), and runs batches through the shared runtime's
:class:`ShardProcessor`: the handler's state, the consumed offsets and the outbox commit in one SQLite
transaction per batch. A partition counts as read to its end when the consumer's position reaches the last
stable offset the latest fetch response reported (no extra request per loop). The runtime's :class:`Relay`
publishes the outbox with a transactional producer (its ``transactional_id`` fences a zombie worker) and
records how far it got in the same Kafka transaction, so ``read_committed`` readers see every output exactly
once whenever the worker is killed. The relay runs on a thread of its own (relay_thread.py), woken by each
commit, so its Kafka round trips never wait behind the worker's batches; the worker commits its first batch
only once the relay has resumed at its committed position.

The identity resolver (identity/worker.py) and the person view (person_view/worker.py) are such workers: each
needs all of its inputs in one place, and its inputs are not co-partitioned.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import UnknownTopicOrPartitionError  # type: ignore[import-untyped]

from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.streams import RawRecord, Relay, ShardHandler, ShardProcessor, pause_full
from joinedup.projections.identity.input_order import OrderedMerge, Partition
from joinedup.projections.relay_thread import (
    WAL_AUTOCHECKPOINT_PAGES,
    RelayStore,
    RelayThread,
    store_file,
)
from joinedup.projections.worker_timeline import TimedShardStore, WorkerTimeline


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
    """Keep per-record timings (:mod:`joinedup.projections.worker_timeline`): benchmarks only."""

    def real(self, name: str) -> str:
        return self.topic_names.get(name, name)

    @property
    def namespace(self) -> str:
        """The prefix of the real topic names ("" in production): prefixed to the relay's transactional id
        and group as well, so that workers on differently prefixed topics of one cluster (tests, benchmarks,
        a demo beside the real thing) never fence each other's relay."""
        for name, real in sorted(self.topic_names.items()):
            if real != name and real.endswith(name):
                return real[: -len(name)]
        return ""


def open_store(path: Path, config: OrderedWorkerConfig) -> ShardStore:
    """The worker's store file (a timed one when the config measures)."""
    if config.measure:
        return TimedShardStore(path, WorkerTimeline(), durable=config.durable)
    return ShardStore(path, durable=config.durable)


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
        self.timeline = store.timeline if isinstance(store, TimedShardStore) else None
        """Per-record timings when the store was opened by :func:`open_store` with ``measure`` on."""
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
                transactional_id=config.namespace + role.transactional_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=0,  # a commit waits for its records: lingering only delays it
                retry_backoff_ms=20,  # a transaction begun while the last one's markers are written retries
                max_batch_size=262_144,
            )

        def positions() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(
                bootstrap_servers=config.bootstrap,
                group_id=config.namespace + role.relay_group,
                client_id=f"{config.client_id}.{role.name}-positions",
                enable_auto_commit=False,
            )

        def relay(store: ShardStore, positions: AIOKafkaConsumer) -> Relay:
            return Relay(
                store,
                producer,
                positions,
                anchor=TopicPartition(config.real(role.anchor), 0),
                group=config.namespace + role.relay_group,
            )

        path = store_file(self.store)
        timeline = self.timeline
        relay_thread = RelayThread(
            lambda: (
                TimedShardStore(path, timeline, durable=config.durable)
                if timeline is not None
                else RelayStore(path, durable=config.durable)
            ),
            positions,
            relay,
            name=f"{role.name}-relay",
        )
        consumer = self._input_consumer(role.name)
        await asyncio.to_thread(relay_thread.start)
        try:
            await consumer.start()
            try:
                merge = await self._assign(consumer)
                with checkpoints_left_to_the_relay(self.store.connection):
                    await self._loop(consumer, relay_thread, merge, stop)
            finally:
                await consumer.stop()
        finally:
            await relay_thread.stop()

    async def replay(self, batch: int = 5000) -> int:
        """Read every input to its current end into the store, publishing nothing (the outbox keeps what
        the batches produced: a worker's relay later skips what its position says was published). Returns
        how many records were processed.

        Meant for a fresh file nobody else has open (``joinedup projections rebuild``): batches of ``batch``
        records, no fsync per commit (``synchronous=OFF``) and a large page cache while it runs; at the end
        the WAL is checkpointed into the file with ``synchronous=FULL`` (written and fsynced) before the
        caller puts the file in place. A crash midway leaves a file the caller deletes and starts again."""
        config = self.config
        db = self.store.connection
        consumer = self._input_consumer(f"{self.role.name}-replay")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-262144")  # KiB: 256 MiB of pages stay in memory
        try:
            await consumer.start()
            try:
                merge = await self._assign(consumer)
                await self._loop(
                    consumer, None, merge, asyncio.Event(), until_caught_up=True, batch_size=batch
                )
            finally:
                await consumer.stop()
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.execute(f"PRAGMA synchronous={'FULL' if config.durable else 'NORMAL'}")
            db.execute("PRAGMA cache_size=-2000")  # SQLite's default
        return self.processed

    def _input_consumer(self, name: str) -> AIOKafkaConsumer:
        """A consumer of the inputs, in no group (``_assign`` assigns and seeks it), client id ``name``."""
        return AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            group_id=None,
            client_id=f"{self.config.client_id}.{name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )

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
        relay: RelayThread | None,
        merge: OrderedMerge,
        stop: asyncio.Event,
        *,
        until_caught_up: bool = False,
        batch_size: int | None = None,
    ) -> None:
        config = self.config
        limit = batch_size or config.max_batch
        while not stop.is_set():
            failed = relay.failed if relay is not None else None
            if failed is not None:
                raise RuntimeError(f"the {self.role.name} relay failed") from failed
            batch = await consumer.getmany(
                timeout_ms=config.poll_timeout_ms, max_records=config.fetch_records
            )
            for tp in sorted(batch):
                raws = [
                    RawRecord(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value) for m in batch[tp]
                ]
                if self.timeline is not None:
                    self.timeline.held(raws)
                merge.add(raws)
            self._pause_full(consumer, merge)
            caught_up = await caught_up_partitions(consumer, merge.partitions)
            while released := merge.release(caught_up, limit):
                self.caught_up.clear()
                if isinstance(self.store, TimedShardStore):
                    self._process_timed(released, self.store)
                else:
                    self.processor.process(released)
                self.processed += len(released)
                gc.freeze()  # what the batch left is long-lived state: keep it out of full collections
                if relay is not None:
                    relay.wake()  # the relay runs on its own thread: it publishes while the next batch runs
                self._pause_full(consumer, merge)
                if len(released) < limit:
                    break
                await asyncio.sleep(0)  # getmany() does not suspend while records are buffered
            drained = not any(merge.buffered(p) for p in merge.partitions)
            if len(caught_up) == len(merge.partitions) and drained:
                if until_caught_up:
                    return
                if self.store.pending() == 0:
                    self.caught_up.set()

    def _process_timed(self, released: list[RawRecord], store: TimedShardStore) -> None:
        """Process a batch and note its timings in the store's timeline (``measure`` on)."""
        released_ns, cpu = time.perf_counter_ns(), time.thread_time_ns()
        result = self.processor.process(released)
        committed_ns, cpu_ns = time.perf_counter_ns(), time.thread_time_ns() - cpu
        store.timeline.committed(
            released, released_ns, store.last_seq(), cpu_ns, result.published, committed_ns
        )

    def _pause_full(self, consumer: AIOKafkaConsumer, merge: OrderedMerge) -> None:
        pause_full(consumer, merge, self.config.max_buffered)


@contextlib.contextmanager
def checkpoints_left_to_the_relay(db: sqlite3.Connection) -> Iterator[None]:
    """While the worker runs beside its relay thread, its own commits never checkpoint the WAL: a commit
    that did copied the WAL into the file and fsynced it while the batch's records waited (5-30 ms on
    about one commit in 30). The relay thread's :class:`~joinedup.projections.relay_thread.WalCheckpointer`
    does it instead, on a thread of its own. Durability does not change: a commit is durable once it is in
    the WAL, checkpointed or not (``synchronous=NORMAL``: against a killed process; ``FULL`` with
    ``durable``: against a power loss too)."""
    db.execute("PRAGMA wal_autocheckpoint=0")
    try:
        yield
    finally:
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")


async def caught_up_partitions(consumer: AIOKafkaConsumer, partitions: Iterable[Partition]) -> set[Partition]:
    """The partitions whose every committed record has been buffered: the position has reached the last
    stable offset that the latest fetch response reported for the partition (``read_committed``: the end a
    reader may see). No request is sent: every fetch response carries it. A partition no fetch response has
    covered yet is not caught up.

    Over data already on the topics (a replay, a restart) this is exact: any fetch response is later than the
    data, so its last stable offset is at or beyond the data's end."""
    done: set[Partition] = set()
    for p in partitions:
        tp = TopicPartition(*p)
        end = consumer.last_stable_offset(tp)
        if end is None or end < 0:
            continue
        if int(await consumer.position(tp)) >= int(end):
            done.add(p)
    return done
