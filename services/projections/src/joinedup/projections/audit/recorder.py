"""Where access audit records go: the ``AuditSink`` / ``AuditReader`` ports, an in-memory log, and the Kafka
adapters over ``joinedup.audit.access`` (one partition, so the topic's order is the chain's order).

The Kafka sink is the chain's only writer: run one query API process per audit topic (or put a lease in front
of it), otherwise two writers would fork the chain. It reads the chain's tail when it starts, and again after
any failed append (a send that failed may or may not have been written).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from joinedup.contract.envelope import cloudevents_headers
from joinedup.contract.errors import DecodeError
from joinedup.contract.kafka import consumer, producer
from joinedup.contract.models.audit import AccessRecorded
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.topics import AUDIT_ACCESS
from joinedup.projections.audit.chain import AccessDraft, ChainTail, chain

log = logging.getLogger(__name__)

AUDIT_PARTITION = 0


class AuditUnavailableError(RuntimeError):
    """The audit log could not record an access: the request that caused it must fail and disclose nothing."""


class AuditSink(Protocol):
    def append(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
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
        self._lock = threading.Lock()

    def append(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
        with self._lock:
            tail = ChainTail.of(self._records[-1]) if self._records else None
            added = chain(tail, drafts)
            self._records.extend(added)
            return added

    def records(self, query: AuditQuery) -> list[AccessRecorded]:
        with self._lock:
            return [r for r in self._records if query.matches(r)][: query.limit]

    @property
    def all(self) -> tuple[AccessRecorded, ...]:
        with self._lock:
            return tuple(self._records)


# ---------------------------------------------------------------------------------------------- Kafka


class SendResult(Protocol):
    """kafka-python's ``FutureRecordMetadata``: ``get`` returns the metadata or raises the send's error."""

    def get(self, timeout: float | None = None) -> Any: ...


class ProducerLike(Protocol):
    """What the sink needs of a kafka-python ``KafkaProducer``."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> SendResult: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


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


class KafkaAuditSink:
    """Appends records to the audit topic with an idempotent, acks=all producer, one partition, waiting for
    every send to be acknowledged before returning (the API answers only after that)."""

    def __init__(
        self,
        send: ProducerLike,
        tail_of_chain: Callable[[], ChainTail | None],
        *,
        topic: str = AUDIT_ACCESS,
        codec: Codec | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._producer = send
        self._tail_of_chain = tail_of_chain
        self._topic = topic
        self._codec = codec or default_codec()
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._tail: ChainTail | None = None
        self._tail_known = False

    @classmethod
    def connect(
        cls, bootstrap: str, *, topic: str = AUDIT_ACCESS, client_id: str = "joinedup-projections-audit"
    ) -> KafkaAuditSink:
        """A sink on a real broker (idempotent producer, acks=all, one request in flight: strict order)."""
        codec = default_codec()
        kafka_producer = producer(bootstrap, client_id, linger_ms=0, max_in_flight_requests_per_connection=1)
        return cls(kafka_producer, lambda: read_tail(bootstrap, topic, codec), topic=topic, codec=codec)

    def start(self) -> None:
        """Read the chain's tail (call before serving: a broken topic fails here, not mid-request)."""
        with self._lock:
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

    def append(self, drafts: Sequence[AccessDraft]) -> list[AccessRecorded]:
        with self._lock:
            if not self._tail_known:
                self._load_tail()
            records = chain(self._tail, drafts)
            try:
                futures = [
                    self._producer.send(
                        self._topic,
                        value=self._codec.encode(record),
                        key=record.agency.encode(),
                        headers=cloudevents_headers(record),
                        partition=AUDIT_PARTITION,
                    )
                    for record in records
                ]
                self._producer.flush(timeout=self._timeout_s)
                for future in futures:
                    future.get(timeout=self._timeout_s)
            except Exception as error:
                # The sends may or may not have landed: re-read the tail before the next append.
                self._tail_known = False
                log.error(
                    "audit append failed (%s); %d records not confirmed", type(error).__name__, len(records)
                )
                raise AuditUnavailableError("the access could not be audited") from None
            if records:
                self._tail = ChainTail.of(records[-1])
            return records

    def close(self) -> None:
        self._producer.close(timeout=self._timeout_s)


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
