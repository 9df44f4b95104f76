"""Where access audit records go: the ``AuditSink`` / ``AuditReader`` ports, an in-memory log, and the Kafka
adapters over ``joinedup.audit.access`` (one partition, so the topic's order is the chain's order).

The Kafka sink is the chain's only writer: run one query API process per audit topic (or put a lease in front
of it), otherwise two writers would fork the chain. Inside the process one writer task chains and sends what
concurrent requests queued (group commit). It reads the chain's tail when it starts, and again after any
failed append (a send that failed may or may not have been written).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from joinedup.contract.envelope import cloudevents_headers
from joinedup.contract.errors import DecodeError
from joinedup.contract.kafka import consumer
from joinedup.contract.models.audit import AccessRecorded
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.topics import AUDIT_ACCESS
from joinedup.projections.audit.chain import AccessDraft, ChainTail, chain

log = logging.getLogger(__name__)

AUDIT_PARTITION = 0


class AuditUnavailableError(RuntimeError):
    """The audit log could not record an access: the request that caused it must fail and disclose nothing."""


class AuditSink(Protocol):
    async def append(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
        """Chain and durably record every draft, in order, or raise :class:`AuditUnavailableError`."""
        ...


@dataclass(frozen=True)
class AuditQuery:
    """Filters of a DPO's look at the audit log (all optional; ``since`` inclusive, ``until`` exclusive)."""

    person_id: str | None = None
    agency: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100

    def matches(self, record: AccessRecorded) -> bool:
        at = record.envelope.occurred_at
        return (
            (self.person_id is None or record.person_id == self.person_id)
            and (self.agency is None or record.agency == self.agency)
            and (self.since is None or at >= self.since)
            and (self.until is None or at < self.until)
        )


class AuditReader(Protocol):
    def records(self, query: AuditQuery) -> list[AccessRecorded]:
        """The matching records, in chain order, at most ``query.limit``."""
        ...


class InMemoryAuditLog:
    """An audit log in a list (tests, demos): both the sink and the reader."""

    def __init__(self) -> None:
        self._records: list[AccessRecorded] = []

    async def append(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
        return self.append_now(drafts)

    def append_now(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
        """``append`` without an event loop (tests, demos)."""
        tail = ChainTail.of(self._records[-1]) if self._records else None
        added = chain(tail, drafts)
        self._records.extend(added)
        return added

    def records(self, query: AuditQuery) -> list[AccessRecorded]:
        return [r for r in self._records if query.matches(r)][: query.limit]

    @property
    def all(self) -> tuple[AccessRecorded, ...]:
        return tuple(self._records)


# ---------------------------------------------------------------------------------------------- Kafka


class ProducerLike(Protocol):
    """What the sink needs of an aiokafka ``AIOKafkaProducer``: ``send`` queues a record and returns a future
    that resolves once the broker acknowledged it (or fails with the send's error)."""

    async def start(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ChainEntry:
    """One message of the audit topic: its offset and the record, or why it could not be decoded."""

    offset: int
    record: AccessRecorded | None
    error: str | None = None


def read_chain(
    bootstrap: str,
    topic: str = AUDIT_ACCESS,
    *,
    start_offset: int = 0,
    codec: Codec | None = None,
    client_id: str = "joinedup-projections-audit-reader",
    poll_ms: int = 1000,
    max_idle_polls: int = 30,
) -> Iterator[ChainEntry]:
    """Every message of the audit topic from ``start_offset`` to its end (as of the call), in order."""
    from kafka import TopicPartition

    found = codec or default_codec()
    reader = consumer(bootstrap, None, client_id)
    try:
        partition = TopicPartition(topic, AUDIT_PARTITION)
        reader.assign([partition])
        end = int(reader.end_offsets([partition])[partition])
        if start_offset >= end:
            return
        reader.seek(partition, start_offset)
        idle = 0
        while reader.position(partition) < end:
            batch = reader.poll(timeout_ms=poll_ms)
            idle = 0 if batch else idle + 1
            if idle > max_idle_polls:
                raise AuditUnavailableError(f"{topic} stopped answering before its end offset {end}")
            for message in batch.get(partition, []):
                if message.offset >= end:
                    return
                try:
                    yield ChainEntry(message.offset, found.decode_as(message.value, AccessRecorded))
                except DecodeError as error:
                    yield ChainEntry(message.offset, None, error.reason)
    finally:
        reader.close()


def read_tail(bootstrap: str, topic: str = AUDIT_ACCESS, codec: Codec | None = None) -> ChainTail | None:
    """The last record of the chain (``None`` when the topic is empty)."""
    from kafka import TopicPartition

    partition = TopicPartition(topic, AUDIT_PARTITION)
    probe = consumer(bootstrap, None, "joinedup-projections-audit-tail")
    try:
        end = int(probe.end_offsets([partition])[partition])
    finally:
        probe.close()
    if end == 0:
        return None
    tail: ChainTail | None = None
    for entry in read_chain(bootstrap, topic, start_offset=end - 1, codec=codec):
        if entry.record is None:
            raise AuditUnavailableError(
                f"the audit chain's last message (offset {entry.offset}) is undecodable"
            )
        tail = ChainTail.of(entry.record)
    if tail is None:
        raise AuditUnavailableError("the audit chain's tail could not be read")
    return tail


@dataclass
class _Pending:
    """One request's drafts and the future its records (or its failure) are delivered on."""

    drafts: tuple[AccessDraft, ...]
    done: asyncio.Future[list[AccessRecorded]]

    def resolve(self, records: list[AccessRecorded]) -> None:
        if not self.done.done():
            self.done.set_result(records)

    def fail(self) -> None:
        if not self.done.done():
            self.done.set_exception(AuditUnavailableError("the access could not be audited"))


class KafkaAuditSink:
    """Appends records to the audit topic with an idempotent, acks=all aiokafka producer (linger 0, one
    partition), on the event loop that serves the API.

    Group commit: concurrent requests queue their drafts; one writer task (the chain's only writer) takes
    everything queued, chains it in queue order, sends it, and resolves each request once its own records and
    every record before them are acknowledged, while the next requests queue behind it. A lone request is sent
    at once. After any failed send the writer stops the producer (which waits for sends in flight to settle)
    and re-reads the tail before the next append, so the chain never forks."""

    def __init__(
        self,
        new_producer: Callable[[], ProducerLike],
        tail_of_chain: Callable[[], ChainTail | None],
        *,
        topic: str = AUDIT_ACCESS,
        codec: Codec | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._new_producer = new_producer
        self._tail_of_chain = tail_of_chain
        self._topic = topic
        self._codec = codec or default_codec()
        self._timeout_s = timeout_s
        self._producer: ProducerLike | None = None
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._tail: ChainTail | None = None
        self._tail_known = False

    @classmethod
    def connect(
        cls, bootstrap: str, *, topic: str = AUDIT_ACCESS, client_id: str = "joinedup-projections-audit"
    ) -> KafkaAuditSink:
        """A sink on a real broker (idempotent producer, acks=all, linger 0; aiokafka keeps one batch per
        partition in flight, so the topic's order is the send order)."""
        codec = default_codec()

        def new_producer() -> ProducerLike:
            from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

            return cast(
                ProducerLike,
                AIOKafkaProducer(
                    bootstrap_servers=bootstrap,
                    client_id=client_id,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=0,
                ),
            )

        return cls(new_producer, lambda: read_tail(bootstrap, topic, codec), topic=topic, codec=codec)

    def start(self) -> None:
        """Read the chain's tail (call before serving: a broken topic fails here, not mid-request)."""
        self._load_tail()

    def _load_tail(self) -> None:
        try:
            self._tail = self._tail_of_chain()
        except AuditUnavailableError:
            raise
        except Exception as error:
            raise AuditUnavailableError(
                f"cannot read the audit chain's tail ({type(error).__name__})"
            ) from None
        self._tail_known = True

    async def open(self) -> None:
        """Connect the producer now (on the serving loop) rather than on the first request."""
        await self._ready()

    async def _ready(self) -> ProducerLike:
        if self._producer is None:
            producer = self._new_producer()
            try:
                await asyncio.wait_for(producer.start(), self._timeout_s)
            except Exception as error:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), self._timeout_s)
                raise AuditUnavailableError(
                    f"cannot reach the audit topic ({type(error).__name__})"
                ) from None
            self._producer = producer
        if not self._tail_known:
            await asyncio.to_thread(self._load_tail)
        return self._producer

    async def append(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
        if not drafts:
            return []
        loop = asyncio.get_running_loop()
        pending = _Pending(tuple(drafts), loop.create_future())
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(), name="audit writer")
        # shielded: a request that goes away does not cancel the write it queued
        return await asyncio.shield(pending.done)

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._commit(batch)
            except BaseException:
                for pending in batch:
                    pending.fail()
                raise

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            producer = await self._ready()
        except AuditUnavailableError as error:
            log.error("audit append failed (%s); %d requests not audited", error, len(batch))
            for pending in batch:
                pending.fail()
            return
        chained: list[list[AccessRecorded]] = []
        tail = self._tail
        for pending in batch:
            records = chain(tail, pending.drafts)
            chained.append(records)
            tail = ChainTail.of(records[-1])
        failure: BaseException | None = None
        acks: list[list[asyncio.Future[Any]]] = []
        try:
            for records in chained:
                acks.append([await self._send(producer, record) for record in records])
        except Exception as error:
            failure = error
        for index, pending in enumerate(batch):
            if failure is None:
                try:
                    await asyncio.wait_for(asyncio.shield(asyncio.gather(*acks[index])), self._timeout_s)
                except Exception as error:
                    failure = error
            if failure is None:
                self._tail = ChainTail.of(chained[index][-1])
                pending.resolve(chained[index])
            else:
                pending.fail()
        if failure is not None:
            # The sends may or may not have landed: let them settle, then re-read the tail next time.
            log.error("audit append failed (%s); the tail will be re-read", type(failure).__name__)
            self._tail_known = False
            self._producer = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), self._timeout_s)

    async def _send(self, producer: ProducerLike, record: AccessRecorded) -> asyncio.Future[Any]:
        return await producer.send(
            self._topic,
            value=self._codec.encode(record),
            key=record.agency.encode(),
            partition=AUDIT_PARTITION,
            headers=cloudevents_headers(record),
        )

    async def aclose(self) -> None:
        """Finish the queued appends and stop the producer (on the serving loop, at shutdown)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


class KafkaAuditReader:
    """Answers DPO queries by scanning the audit topic (a pilot; index it in a store as it grows)."""

    def __init__(self, bootstrap: str, topic: str = AUDIT_ACCESS, codec: Codec | None = None) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._codec = codec

    def records(self, query: AuditQuery) -> list[AccessRecorded]:
        found: list[AccessRecorded] = []
        for entry in read_chain(self._bootstrap, self._topic, codec=self._codec):
            if entry.record is not None and query.matches(entry.record):
                found.append(entry.record)
                if len(found) >= query.limit:
                    break
        return found
