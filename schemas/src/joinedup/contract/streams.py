"""The stream-processing runtime every joinedup service runs on (docs/adr/0003-stream-runtime.md).

Shards: all the topics a service consumes have the same partition count, and partition ``i`` of each belongs
to shard ``i``. The consumer group (``joinedup.<service>.<purpose>``) uses the range assignor, so one worker
owns shard ``i`` of every topic. Each shard has its own SQLite store (:mod:`joinedup.contract.outbox`).

Per batch and shard, one SQLite transaction holds the service's state changes, the consumed offsets and the
records to publish (the outbox). Kafka-committed consumer offsets are not used: a new owner of a shard seeks
to the store's offsets. A relay per shard publishes the outbox with a transactional producer
(``transactional_id`` ``joinedup.<service>.shard-<i>``, which fences a zombie owner) and commits, in the same
Kafka transaction, how far it got as the offset of an anchor partition in group ``joinedup.<service>.relay``.
A restarted relay publishes only what lies beyond that position, so ``read_committed`` readers see every
output exactly once whatever moment a worker is killed at.

Undecodable input becomes a DeadLetter in the outbox; so does a record whose handling raises. Offsets always
advance: the runtime never crashes on bad input and never drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from aiokafka import (  # type: ignore[import-untyped]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.coordinator.assignors.range import (  # type: ignore[import-untyped]
    RangePartitionAssignor,
)

from joinedup.contract.dead_letters import dead_letter_for, dead_letter_key
from joinedup.contract.envelope import CONTENT_TYPE, cloudevents_headers, cloudevents_headers_of
from joinedup.contract.errors import DecodeError
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event
from joinedup.contract.ordered_merge import OrderedMerge, Partition, RawRecord
from joinedup.contract.outbox import Headers, Publication, ShardStore, shard_path
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.topics import DEAD_LETTER

log = logging.getLogger(__name__)

RELAY_METADATA = "outbox"


# ---------------------------------------------------------------- names


def consumer_group(service: str, purpose: str) -> str:
    return f"joinedup.{service}.{purpose}"


def relay_group(service: str) -> str:
    """The group under which each shard's relay records its outbox position."""
    return f"joinedup.{service}.relay"


def transactional_id(service: str, shard: int) -> str:
    return f"joinedup.{service}.shard-{shard}"


# ---------------------------------------------------------------- the handler interface


@dataclass(frozen=True)
class Input:
    """A decoded input and its coordinates; ``topic`` is the catalog name (never a test prefix)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    record: AvroRecord


@dataclass(frozen=True)
class DatumInput:
    """An input in fastavro's dict form (read with the record's current schema), for a handler that asks for
    it (:class:`DatumHandler`). The bytes were checked as for a model (size bounds, known fingerprint, every
    byte consumed, the envelope against the header); only the model validation is left out, so the handler
    must validate what it reads (a handler that raises has the record dead-lettered)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    avro_name: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Datum:
    """A record already in fastavro's dict form: the encoder takes it as is, no model is built (the hot path
    of a service whose own models have the contract's field names; a unit test must show they match)."""

    avro_name: str
    fields: Mapping[str, Any]
    event_id: str
    recorded_at: datetime


@dataclass(frozen=True)
class Output:
    """A record to publish on a catalog topic under ``key``."""

    topic: str
    key: str
    record: AvroRecord | Datum


class ShardHandler(Protocol):
    """A service's logic for one shard, bound to the shard's state (tables in the shard's connection).

    ``handle`` runs inside the batch transaction: it reads and stages state through the connection and
    returns what to publish. It must not commit or roll back, read the clock or draw random numbers."""

    def handle(self, inputs: Sequence[Input]) -> Sequence[Output]: ...


class DatumHandler(Protocol):
    """A handler that takes its inputs as :class:`DatumInput` (``reads_datums`` is True): a hot path that
    reads a few fields of large records and would spend more validating the whole model than handling it."""

    reads_datums: Literal[True]

    def handle(self, inputs: Sequence[DatumInput]) -> Sequence[Output]: ...


HandlerFactory = Callable[[sqlite3.Connection, int], ShardHandler]
"""Builds the handler of shard ``i`` over the shard's open connection (creating its tables if needed)."""


def cloud_event_headers(record: AvroRecord | Datum, key: str, source: str) -> Headers:
    """The CloudEvents Kafka-binding headers of an output: the envelope's (one definition, in
    :mod:`joinedup.contract.envelope`); a record without an envelope gets its type, ``source`` and ``key``."""
    if isinstance(record, Event):
        return tuple(cloudevents_headers(record))
    envelope = record.fields.get("envelope") if isinstance(record, Datum) else None
    if isinstance(envelope, Mapping):
        return tuple(cloudevents_headers_of(record.avro_name, envelope))
    return (
        ("ce_specversion", b"1.0"),
        ("ce_type", record.avro_name.encode()),
        ("ce_source", source.encode()),
        ("ce_subject", key.encode()),
        ("content-type", CONTENT_TYPE),
    )


# ---------------------------------------------------------------- one shard's batch (no broker)


@dataclass(frozen=True)
class BatchResult:
    published: int
    """Records put in the outbox."""
    dead_letters: int
    next_offsets: dict[tuple[str, int], int]
    """The next offset to read per partition, as committed (seek here when ``stale``)."""
    stale: bool = False
    """Some records had been consumed already (by an earlier owner of the shard) or handled already (a
    redelivery below the shard's handled mark): they were skipped."""
    redelivered: int = 0
    """Records skipped because the shard had handled them before (its read position had been moved back)."""


class ShardProcessor:
    """Runs batches of one shard through its handler: decode, handle, encode, and commit state, offsets and
    outbox in one transaction. Synchronous and broker-free."""

    def __init__(
        self,
        store: ShardStore,
        handler: ShardHandler | DatumHandler,
        *,
        topic_names: Mapping[str, str],
        group: str,
        source: str,
        codec: Codec | None = None,
    ) -> None:
        self.store = store
        self.handler = handler
        self.reads_datums = getattr(handler, "reads_datums", False) is True
        """The handler takes :class:`DatumInput` (dicts, no model built) rather than :class:`Input`."""
        self.codec = codec or default_codec()
        self.group = group
        self.source = source
        self._real = dict(topic_names)
        self._catalog = {real: name for name, real in topic_names.items()}

    def _publication(self, output: Output) -> Publication:
        record = output.record
        value = (
            self.codec.encode_dict(record.avro_name, record.fields)
            if isinstance(record, Datum)
            else self.codec.encode(record)
        )
        return Publication(
            topic=self._real.get(output.topic, output.topic),
            key=output.key.encode(),
            value=value,
            headers=cloud_event_headers(output.record, output.key, self.source),
        )

    def _dead_letter(self, error: BaseException, record: RawRecord) -> Publication:
        letter = dead_letter_for(
            error,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            source_timestamp_ms=record.timestamp_ms,
            key=record.key,
            payload=record.value or b"",
            consumer_group=self.group,
        )
        key = dead_letter_key(record.topic, record.partition, record.offset)
        return self._publication(Output(DEAD_LETTER, key, letter))

    def _handle(self, inputs: Sequence[Input | DatumInput]) -> list[Publication]:
        handle: Callable[[Sequence[Any]], Sequence[Output]] = self.handler.handle  # the form it reads
        return [self._publication(output) for output in handle(inputs)]

    def _decode(self, records: Sequence[RawRecord]) -> list[Input | DatumInput | DecodeError]:
        """Each record decoded for the handler (a model, or the dict form it asks for), or its
        :class:`DecodeError` in its place."""
        out: list[Input | DatumInput | DecodeError] = []
        if not self.reads_datums:
            decoded = self.codec.decode_many([r.value or b"" for r in records])
            for raw, result in zip(records, decoded, strict=True):
                out.append(result if isinstance(result, DecodeError) else self._input(raw, result))
            return out
        for raw in records:
            try:
                kind, fields = self.codec.decode_dict(raw.value or b"")
            except DecodeError as exc:
                out.append(exc)
                continue
            topic = self._catalog.get(raw.topic, raw.topic)
            out.append(
                DatumInput(
                    topic, raw.partition, raw.offset, raw.timestamp_ms, raw.key, kind.full_name, fields
                )
            )
        return out

    def _input(self, raw: RawRecord, record: AvroRecord) -> Input:
        topic = self._catalog.get(raw.topic, raw.topic)
        return Input(topic, raw.partition, raw.offset, raw.timestamp_ms, raw.key, record)

    def _handle_run(
        self, run: Sequence[tuple[RawRecord, Input | DatumInput]]
    ) -> tuple[list[Publication], int]:
        """The outputs of a run of decoded inputs, in input order; a record the handler fails on is
        dead-lettered in its place (the others go through). Returns them and how many dead letters."""
        if not run:
            return [], 0
        try:
            with self.store.savepoint():
                return self._handle([i for _, i in run]), 0
        except Exception as error:
            log.info(
                "%s: a batch failed in the handler (%s): record by record", self.group, type(error).__name__
            )
        out: list[Publication] = []
        dead = 0
        for raw, one in run:  # find the record that fails
            try:
                with self.store.savepoint():
                    out.extend(self._handle([one]))
            except Exception as error:
                log.warning(
                    "%s %s/%d@%d failed in the handler: dead-lettered",
                    self.group,
                    raw.topic,
                    raw.partition,
                    raw.offset,
                    exc_info=error,
                )
                out.append(self._dead_letter(error, raw))
                dead += 1
        return out, dead

    def process(self, records: Sequence[RawRecord]) -> BatchResult:
        """Handle one batch of this shard's records in one transaction, in the order given (each partition's
        in offset order). A record below the shard's read position or its handled mark is skipped: it was
        consumed or handled before, and handling it again would publish its outputs again."""
        with self.store.transaction():
            committed = self.store.next_offsets()
            marks = self.store.handled_offsets()
            fresh = [r for r in records if r.offset >= committed.get((r.topic, r.partition), 0)]
            redelivered = len(fresh)
            fresh = [r for r in fresh if r.offset >= marks.get((r.topic, r.partition), 0)]
            redelivered -= len(fresh)
            stale = len(fresh) != len(records)
            decoded = self._decode(fresh)
            # every input's outputs in input order, a dead letter in its input's place: the outbox numbering
            # is then the same however the inputs are cut into batches (a rebuilt store relies on it)
            publications: list[Publication] = []
            dead = 0
            run: list[tuple[RawRecord, Input | DatumInput]] = []
            for raw, result in zip(fresh, decoded, strict=True):
                if isinstance(result, DecodeError):
                    outputs, failed = self._handle_run(run)
                    publications.extend(outputs)
                    publications.append(self._dead_letter(result, raw))
                    dead += failed + 1
                    run = []
                    continue
                run.append((raw, result))
            outputs, failed = self._handle_run(run)
            publications.extend(outputs)
            dead += failed
            self.store.append(publications)
            offsets = dict(committed)
            for partition, mark in marks.items():  # skip past a redelivery: read on from the mark
                offsets[partition] = max(offsets.get(partition, 0), mark)
            for r in fresh:
                offsets[(r.topic, r.partition)] = max(offsets.get((r.topic, r.partition), 0), r.offset + 1)
            self.store.save_offsets(offsets)
        return BatchResult(len(publications), dead, offsets, stale, redelivered)


# ---------------------------------------------------------------- the relay


class Relay:
    """Publishes one shard's outbox exactly once with a transactional producer (see the module doc).

    Any failure (a fenced producer included) restarts the producer: initialising it again aborts whatever
    transaction was open, and the position is read again from Kafka, so a restart never publishes twice.
    After ``max_restarts`` failures in a row the relay gives up and the worker stops."""

    def __init__(
        self,
        store: ShardStore,
        producers: Callable[[], AIOKafkaProducer],
        positions: AIOKafkaConsumer,
        *,
        anchor: TopicPartition,
        group: str,
        max_rows: int = 2000,
        max_restarts: int = 5,
        replays_number_alike: bool = False,
    ) -> None:
        self.store = store
        self.replays_number_alike = replays_number_alike
        """A rebuilt store makes the published rows again under the same numbers: skip them, do not
        renumber and republish them (:meth:`ShardStore.resume_at`)."""
        self.producers = producers
        self.positions = positions
        self.anchor = anchor
        self.group = group
        self.max_rows = max_rows
        self.max_restarts = max_restarts
        self.position = 1
        self.restarts = 0
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def _connect(self) -> None:
        """Start a producer (fencing any earlier owner, whose open transaction is aborted), read the
        committed position and forget the rows below it."""
        producer = self.producers()
        self._producer = producer
        try:
            await producer.start()
            committed = await self.positions.committed(self.anchor)
        except BaseException:
            await self._disconnect()
            raise
        self.position = max(int(committed or 1), 1)
        self.store.resume_at(self.position, replays_number_alike=self.replays_number_alike)

    async def _disconnect(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    def start(self) -> None:
        """Connect and publish in the background (no network wait here: a rebalance callback calls this,
        and a slow callback stops the consumer's heartbeats)."""
        self._task = asyncio.create_task(self._run(), name=f"relay {self.anchor}")
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    @property
    def failed(self) -> BaseException | None:
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def _run(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                if self._producer is None:
                    await self._connect()
                await self.flush()
                failures = 0
            except Exception as error:
                failures += 1
                self.restarts += 1
                await self._disconnect()
                if failures > self.max_restarts or self._closing:
                    raise
                log.warning("relay %s failed (%s); restarting it", self.anchor, type(error).__name__)
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                self.wake()
                continue
            if self._closing:
                return

    async def flush(self) -> int:
        """Publish every unsent row; returns how many."""
        producer = self._producer
        assert producer is not None
        sent = 0
        self.store.mark_sent(self.position)  # rows a rebuilt store made again below the position
        while rows := self.store.unsent(self.position, self.max_rows):
            next_position = rows[-1].seq + 1
            await producer.begin_transaction()
            try:
                for row in rows:
                    p = row.publication
                    await producer.send(p.topic, p.value, key=p.key, headers=list(p.headers))
                await producer.send_offsets_to_transaction(
                    {self.anchor: (next_position, RELAY_METADATA)}, self.group
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    await producer.abort_transaction()
                raise
            await producer.commit_transaction()
            self.position = next_position
            self.store.mark_sent(next_position)
            sent += len(rows)
        return sent

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Publish what is left (waiting at most ``timeout_s``), then stop the producer. Raises what made the
        relay give up, if it did. Rows it could not publish stay in the outbox for the shard's next owner,
        whose relay aborts any transaction left open here."""
        self._closing = True
        self.wake()
        try:
            if self._task is not None:
                done, _ = await asyncio.wait({self._task}, timeout=timeout_s)
                if not done:
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._task
                else:
                    self._task.result()
        finally:
            await self._disconnect()


# ---------------------------------------------------------------- the worker


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything a worker needs. ``inputs`` are catalog names; ``topic_names`` maps catalog names to real
    ones (a prefix in tests; missing names map to themselves)."""

    service: str
    purpose: str
    inputs: tuple[str, ...]
    bootstrap: str
    data_dir: Path
    topic_names: Mapping[str, str] = field(default_factory=dict)
    max_batch: int = 1000
    fetch_records: int = 0
    """The most records one poll returns; 0: twice ``max_batch``, at least 500 (more than a batch: a shard's
    merge needs a head from each of its partitions)."""
    max_buffered: int = 5000
    """Per partition: a partition with this many records waiting in its shard's merge is paused until the
    merge drains it."""
    poll_timeout_ms: int = 200
    session_timeout_ms: int = 10_000
    relay_max_rows: int = 2000
    durable: bool = False
    client_id: str = "joinedup"
    namespace: str = ""
    """Prefixed to the consumer group, the relay group and the transactional ids, so that deployments
    sharing a cluster (tests on prefixed topics, a demo beside the real thing) never fence each other."""

    @property
    def group(self) -> str:
        return self.namespace + consumer_group(self.service, self.purpose)

    @property
    def relay_group(self) -> str:
        return self.namespace + relay_group(self.service)

    def transactional_id(self, shard: int) -> str:
        return self.namespace + transactional_id(self.service, shard)

    def real(self, name: str) -> str:
        return self.topic_names.get(name, name)

    @property
    def real_inputs(self) -> list[str]:
        return sorted(self.real(name) for name in self.inputs)

    @property
    def source(self) -> str:
        return f"urn:joinedup:{self.service}"

    @property
    def poll_records(self) -> int:
        return self.fetch_records or max(2 * self.max_batch, 500)


@dataclass
class Shard:
    index: int
    store: ShardStore
    processor: ShardProcessor
    relay: Relay
    merge: OrderedMerge
    """The shard's input partitions in one deterministic order (:mod:`joinedup.contract.ordered_merge`)."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runtime: StreamRuntime) -> None:
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        try:
            await self.runtime.close_shards({tp.partition for tp in revoked})
        except Exception as error:  # aiokafka would only log it: make the worker stop instead
            self.runtime.failure = error

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        try:
            await self.runtime.open_shards(sorted(assigned))
        except Exception as error:
            self.runtime.failure = error


class StreamRuntime:
    """One worker: consumes the service's input topics, runs each shard's batches, relays the outboxes."""

    def __init__(self, config: RuntimeConfig, handlers: HandlerFactory, codec: Codec | None = None) -> None:
        self.config = config
        self.handlers = handlers
        self.codec = codec or default_codec()
        self.shards: dict[int, Shard] = {}
        self.processed = 0
        self.failure: BaseException | None = None
        """Set when a rebalance callback failed: the loop raises it (a supervisor restarts the worker)."""
        self._consumer: AIOKafkaConsumer | None = None
        self._positions: AIOKafkaConsumer | None = None
        self._ends: dict[Partition, int] = {}
        """The last end offset read per input partition (end offsets only grow)."""
        self._generation = 0
        """Counts shard openings and closings: a merge step that awaited across one starts again."""

    def _client_id(self, role: str) -> str:
        return f"{self.config.client_id}.{self.config.service}.{role}"

    def _producer_factory(self, index: int) -> Callable[[], AIOKafkaProducer]:
        def build() -> AIOKafkaProducer:
            return AIOKafkaProducer(
                bootstrap_servers=self.config.bootstrap,
                client_id=self._client_id(f"relay-{index}"),
                transactional_id=self.config.transactional_id(index),
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                max_batch_size=262_144,
            )

        return build

    # -------------------------------------------------------------- shards
    async def open_shards(self, assigned: Sequence[TopicPartition]) -> None:
        consumer, positions = self._consumer, self._positions
        assert consumer is not None
        assert positions is not None
        anchor_topic = self.config.real_inputs[0]
        catalog = {real: name for name, real in self.config.topic_names.items()}
        self._generation += 1
        for index in sorted({tp.partition for tp in assigned}):
            if index in self.shards:
                continue
            store = ShardStore(
                shard_path(self.config.data_dir, self.config.service, index), durable=self.config.durable
            )
            try:
                handler = self.handlers(store.connection, index)
                relay = Relay(
                    store,
                    self._producer_factory(index),
                    positions,
                    anchor=TopicPartition(anchor_topic, index),
                    group=self.config.relay_group,
                    max_rows=self.config.relay_max_rows,
                    replays_number_alike=True,  # one input order per shard; outputs numbered in input order
                )
                relay.start()
            except BaseException:
                store.close()
                raise
            processor = ShardProcessor(
                store,
                handler,
                topic_names=self.config.topic_names,
                group=self.config.group,
                source=self.config.source,
                codec=self.codec,
            )
            merge = OrderedMerge(
                [(tp.topic, tp.partition) for tp in assigned if tp.partition == index], catalog
            )
            self.shards[index] = Shard(index, store, processor, relay, merge)
            log.info("%s: opened shard %d", self.config.group, index)
        # seek() only sets the position; seek_to_beginning() would wait for a broker round trip per partition
        # inside this callback, and no heartbeat goes out meanwhile. Offset 0 below the log start (retention)
        # resets to the earliest record (auto_offset_reset), which is the beginning as well.
        for tp in assigned:
            shard = self.shards[tp.partition]
            offsets = shard.store.next_offsets()
            if (tp.topic, tp.partition) not in shard.merge.partitions:  # a shard that gains a topic
                shard.merge = OrderedMerge([*shard.merge.partitions, (tp.topic, tp.partition)], catalog)
            shard.merge.clear((tp.topic, tp.partition))
            consumer.seek(tp, offsets.get((tp.topic, tp.partition), 0))

    async def close_shards(self, indexes: Iterable[int]) -> None:
        self._generation += 1
        for index in sorted(indexes):
            shard = self.shards.pop(index, None)
            if shard is None:
                continue
            try:
                await shard.relay.stop()
            except Exception:
                log.exception("%s: the relay of shard %d failed; its outbox waits", self.config.group, index)
            finally:
                shard.store.close()
            log.info("%s: closed shard %d", self.config.group, index)

    # -------------------------------------------------------------- the loop
    def _check_relays(self) -> None:
        if self.failure is not None:
            raise RuntimeError("a rebalance callback failed") from self.failure
        for shard in self.shards.values():
            error = shard.relay.failed
            if error is not None:
                raise RuntimeError(f"the relay of shard {shard.index} failed") from error

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set (or forever); closes every shard on the way out."""
        stop = stop or asyncio.Event()
        config = self.config
        options: dict[str, Any] = {
            "bootstrap_servers": config.bootstrap,
            "enable_auto_commit": False,
        }
        self._positions = AIOKafkaConsumer(
            group_id=config.relay_group, client_id=self._client_id("positions"), **options
        )
        self._consumer = AIOKafkaConsumer(
            group_id=config.group,
            client_id=self._client_id("consumer"),
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=max(config.session_timeout_ms // 5, 500),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            **options,
        )
        await self._positions.start()
        try:
            self._consumer.subscribe(config.real_inputs, listener=_Rebalance(self))
            await self._consumer.start()
            try:
                while not stop.is_set():
                    self._check_relays()
                    batch = await self._consumer.getmany(
                        timeout_ms=config.poll_timeout_ms, max_records=config.poll_records
                    )
                    self._buffer(batch)
                    await self._process()
                    # getmany() does not suspend when records are buffered: yield, or the relays and the
                    # consumer's heartbeat starve while there is input (and the group expels this worker)
                    await asyncio.sleep(0)
            finally:
                try:
                    await self.close_shards(list(self.shards))
                finally:
                    await self._consumer.stop()
        finally:
            await self._positions.stop()

    def _buffer(self, batch: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """Add what a poll returned to the merges of the shards it belongs to."""
        for tp in sorted(batch):
            shard = self.shards.get(tp.partition)
            if shard is None or (tp.topic, tp.partition) not in shard.merge.partitions:
                continue  # revoked while the fetch was in flight: its next owner reads it
            shard.merge.add(
                RawRecord(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value) for m in batch[tp]
            )
        self._pause_full()

    def _pause_full(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        for shard in self.shards.values():
            pause_full(consumer, shard.merge, self.config.max_buffered)

    async def _caught_up(self) -> set[Partition]:
        """The input partitions with nothing buffered whose every committed record has been read (position at
        the end offset). Called after the poll whose records the merges hold: a record appended after this
        check carries a later broker timestamp than every one of them (see the ordered_merge module doc)."""
        consumer = self._consumer
        assert consumer is not None
        waiting = [p for shard in self.shards.values() for p in shard.merge.waiting_for()]
        positions = {p: int(await consumer.position(TopicPartition(*p))) for p in waiting}
        unsure = [p for p in waiting if positions[p] >= self._ends.get(p, 0)]
        if unsure:
            fresh: Mapping[TopicPartition, int] = await consumer.end_offsets(
                [TopicPartition(*p) for p in unsure]
            )
            for tp, end in fresh.items():
                self._ends[(tp.topic, tp.partition)] = int(end)
        return {p for p in waiting if positions[p] >= self._ends.get(p, 0)}

    async def _process(self) -> None:
        """Run each shard's merge as far as it can go, a batch of at most ``max_batch`` at a time."""
        generation = self._generation
        caught_up = await self._caught_up()
        if generation != self._generation:  # shards opened or closed meanwhile: positions are stale
            return
        for index in sorted(self.shards):
            shard = self.shards[index]
            while released := shard.merge.release(caught_up, self.config.max_batch):
                result = shard.processor.process(released)
                self.processed += len(released)
                shard.relay.wake()
                if result.stale:
                    self._seek_to_committed(shard, result.next_offsets)
                    break
        self._pause_full()

    def _seek_to_committed(self, shard: Shard, next_offsets: Mapping[tuple[str, int], int]) -> None:
        """Some records had been consumed or handled before: read each of the shard's partitions on from its
        committed offset, forgetting what the merge buffered (it is read again)."""
        consumer = self._consumer
        assert consumer is not None
        assignment = consumer.assignment()
        for topic, partition in shard.merge.partitions:
            tp = TopicPartition(topic, partition)
            if tp in assignment and (topic, partition) in next_offsets:
                shard.merge.clear((topic, partition))
                consumer.seek(tp, next_offsets[(topic, partition)])


def pause_full(consumer: AIOKafkaConsumer, merge: OrderedMerge, max_buffered: int) -> None:
    """Pause fetching the merge's partitions that hold ``max_buffered`` records or more; resume the others."""
    paused = consumer.paused()
    for topic, partition in merge.partitions:
        tp = TopicPartition(topic, partition)
        full = merge.buffered((topic, partition)) >= max_buffered
        if full and tp not in paused:
            consumer.pause(tp)
        elif not full and tp in paused:
            consumer.resume(tp)


def topic_mapping(prefix: str, names: Iterable[str]) -> dict[str, str]:
    """``{name: prefix + name}`` for each catalog name (an empty prefix maps every name to itself)."""
    return {name: prefix + name for name in names}


__all__ = [
    "BatchResult",
    "Datum",
    "DatumHandler",
    "DatumInput",
    "HandlerFactory",
    "Input",
    "Output",
    "RawRecord",
    "Relay",
    "RuntimeConfig",
    "ShardHandler",
    "ShardProcessor",
    "StreamRuntime",
    "cloud_event_headers",
    "consumer_group",
    "pause_full",
    "relay_group",
    "topic_mapping",
    "transactional_id",
]
