"""Building the dead letter for a message a consumer could not process (undecodable, or failing after decode).

The dead letter keeps the key and value exactly as received, where they came from and why they failed. Its id
is a UUIDv5 of (consumer group, topic, partition, offset), so a consumer that dead-letters the same message
again after a crash produces the same event, and its times come from the message's Kafka timestamp.

:func:`route_undecodable` and :func:`consume_routing_dead_letters` are the smallest complete consumer on
kafka-python: decode a batch, send a dead letter for every message that does not decode, hand the rest on,
flush, commit, go on. (Services use the shard runtime in :mod:`joinedup.contract.streams`, which does the same
inside its own transaction.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from joinedup.contract.envelope import (
    JOINEDUP_SOURCE,
    cloudevents_headers,
    envelope_for,
    event_id_for,
    from_kafka_timestamp,
)
from joinedup.contract.errors import DecodeError
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.schemas import ContractRegistry
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.topics import DEAD_LETTER, agency_of_intake_topic


def reason_for(error: BaseException) -> str:
    """A reason safe to keep: a decode error's own message (it never holds message content), otherwise only
    the error's class name (other libraries' messages may quote the data)."""
    if isinstance(error, DecodeError):
        return error.reason
    return f"{type(error).__name__} while processing the message"


def dead_letter_for(
    error: BaseException,
    *,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    source_timestamp_ms: int | None,
    key: bytes | None,
    payload: bytes,
    consumer_group: str,
    failed_at: datetime | None = None,
    reason: str | None = None,
    contract: ContractRegistry | None = None,
) -> DeadLetter:
    """The :class:`DeadLetter` for one failed message. ``failed_at`` defaults to the message's Kafka
    timestamp (no wall clock); pass it when the broker gave no timestamp."""
    moment = failed_at
    if moment is None:
        if source_timestamp_ms is None:
            raise ValueError("a dead letter needs failed_at when the message has no Kafka timestamp")
        moment = from_kafka_timestamp(source_timestamp_ms)
    return DeadLetter(
        envelope=envelope_for(
            DeadLetter,
            event_id=event_id_for(
                "deadletter", consumer_group, source_topic, source_partition, source_offset
            ),
            occurred_at=moment,
            recorded_at=moment,
            source_agency=agency_of_intake_topic(source_topic) or JOINEDUP_SOURCE,
            correlation_id=f"{source_topic}/{source_partition}/{source_offset}",
            contract=contract,
        ),
        source_topic=source_topic,
        source_partition=source_partition,
        source_offset=source_offset,
        source_timestamp=None if source_timestamp_ms is None else from_kafka_timestamp(source_timestamp_ms),
        key=key,
        payload=payload,
        error_class=type(error).__name__,
        reason=reason or reason_for(error),
        consumer_group=consumer_group,
        failed_at=moment,
    )


def dead_letter_key(source_topic: str, source_partition: int, source_offset: int) -> str:
    """The record key of a dead letter, as the topic catalog declares it."""
    return f"{source_topic}/{source_partition}/{source_offset}"


# ---------------------------------------------------------------------------------------------- routing


class ConsumedRecord(Protocol):
    """What a consumer hands over per message (kafka-python's ``ConsumerRecord`` has these fields)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


class RecordSender(Protocol):
    """The part of a producer that sends (kafka-python's ``KafkaProducer``)."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


class PollingConsumer(Protocol):
    """The part of a consumer the loop uses (kafka-python's ``KafkaConsumer``, auto commit off)."""

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> Mapping[Any, Sequence[Any]]: ...

    def commit(self) -> None: ...


@dataclass(frozen=True)
class Delivered:
    """A message that decoded, with where it came from."""

    source: ConsumedRecord
    record: AvroRecord


@dataclass(frozen=True)
class RoutedBatch:
    delivered: list[Delivered]
    dead_letters: list[DeadLetter]


@dataclass
class RoutingTally:
    """What :func:`consume_routing_dead_letters` has done so far."""

    consumed: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    by_error: dict[str, int] = field(default_factory=dict)


def route_undecodable(
    records: Sequence[ConsumedRecord],
    producer: RecordSender,
    *,
    consumer_group: str,
    dead_letter_topic: str = DEAD_LETTER,
    codec: Codec | None = None,
) -> RoutedBatch:
    """Decode a batch; send a :class:`DeadLetter` for each message that does not decode (keyed
    ``<topic>/<partition>/<offset>``, with CloudEvents headers) and return the ones that do, in order.

    Sending is asynchronous: flush the producer before committing the batch's offsets, so a crash in between
    re-sends the same dead letters (same ids) instead of losing them. A message without a Kafka timestamp
    (brokers always set one) is dead-lettered at the epoch rather than at a wall-clock time."""
    found = codec or default_codec()
    results = found.decode_many([r.value or b"" for r in records])
    delivered: list[Delivered] = []
    letters: list[DeadLetter] = []
    for source, result in zip(records, results, strict=True):
        if not isinstance(result, DecodeError):
            delivered.append(Delivered(source, result))
            continue
        stamp = source.timestamp if source.timestamp is not None and source.timestamp >= 0 else None
        letter = dead_letter_for(
            result,
            source_topic=source.topic,
            source_partition=source.partition,
            source_offset=source.offset,
            source_timestamp_ms=stamp,
            key=source.key,
            payload=source.value or b"",
            consumer_group=consumer_group,
            failed_at=None if stamp is not None else from_kafka_timestamp(0),
            contract=found.contract,
        )
        producer.send(
            dead_letter_topic,
            value=found.encode(letter),
            key=dead_letter_key(source.topic, source.partition, source.offset).encode(),
            headers=cloudevents_headers(letter),
        )
        letters.append(letter)
    return RoutedBatch(delivered, letters)


def consume_routing_dead_letters(
    consumer: PollingConsumer,
    producer: RecordSender,
    handle: Callable[[Sequence[Delivered]], None],
    *,
    consumer_group: str,
    until: Callable[[RoutingTally], bool],
    dead_letter_topic: str = DEAD_LETTER,
    codec: Codec | None = None,
    poll_timeout_ms: int = 200,
    max_records: int = 500,
) -> RoutingTally:
    """Poll, route each batch (:func:`route_undecodable`), ``handle`` the decoded messages, flush the dead
    letters, commit, and go on until ``until(tally)`` is true (checked before each poll). At least once:
    a crash before the commit replays the batch (dead letters keep their ids). A failure in ``handle`` is
    not caught here: what to do with a message that decodes but cannot be processed is the caller's rule."""
    tally = RoutingTally()
    while not until(tally):
        batches = consumer.poll(timeout_ms=poll_timeout_ms, max_records=max_records)
        records = [m for tp in sorted(batches, key=_partition_order) for m in batches[tp]]
        if not records:
            continue
        routed = route_undecodable(
            records, producer, consumer_group=consumer_group, dead_letter_topic=dead_letter_topic, codec=codec
        )
        handle(routed.delivered)
        producer.flush()
        consumer.commit()
        tally.consumed += len(records)
        tally.delivered += len(routed.delivered)
        tally.dead_lettered += len(routed.dead_letters)
        for letter in routed.dead_letters:
            tally.by_error[letter.error_class] = tally.by_error.get(letter.error_class, 0) + 1
    return tally


def _partition_order(tp: Any) -> tuple[str, int]:
    return (str(getattr(tp, "topic", "")), int(getattr(tp, "partition", 0)))
