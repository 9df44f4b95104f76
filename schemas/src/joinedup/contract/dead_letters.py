"""Building the dead letter for a message a consumer could not process (undecodable, or failing after decode).

The dead letter keeps the key and value exactly as received, where they came from and why they failed. Its id
is a UUIDv5 of (consumer group, topic, partition, offset), so a consumer that dead-letters the same message
again after a crash produces the same event, and its times come from the message's Kafka timestamp.
"""

from __future__ import annotations

from datetime import datetime

from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for, event_id_for, from_kafka_timestamp
from joinedup.contract.errors import DecodeError
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.schemas import ContractRegistry
from joinedup.contract.topics import agency_of_intake_topic


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
