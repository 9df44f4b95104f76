"""Building envelopes: deterministic event ids, times from Kafka timestamps, and the envelope factory.

Nothing here reads the wall clock or draws random numbers: an event id is a UUIDv5 of the event's source
coordinates, and ``recorded_at`` comes from the input's Kafka timestamp, so a replay is byte-identical.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import Envelope, RecordRef
from joinedup.contract.schemas import ContractRegistry, registry

EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:joinedup:event")
"""The UUIDv5 namespace of joinedup event ids (fixed forever: changing it changes every id)."""

JOINEDUP_SOURCE = "joinedup"
"""``envelope.source_agency`` of facts joinedup derives itself (identity, alerts, audit, dead letters)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_id_for(*coordinates: str | int) -> uuid.UUID:
    """The deterministic id of the event at these source coordinates.

    Coordinates are joined with ``/``, e.g. ``event_id_for("ReferralReceived", "police", "REF-1")`` or
    ``event_id_for("joinedup.intake.police", 2, 1041, 0)`` (topic, partition, offset, index in its output).
    """
    if not coordinates:
        raise ValueError("an event id needs at least one coordinate")
    return uuid.uuid5(EVENT_ID_NAMESPACE, "/".join(str(part) for part in coordinates))


def from_kafka_timestamp(timestamp_ms: int) -> datetime:
    """A Kafka record timestamp (milliseconds since the epoch) as an aware UTC datetime."""
    return _EPOCH + timedelta(milliseconds=timestamp_ms)


def to_kafka_timestamp(moment: datetime) -> int:
    """An aware datetime as a Kafka timestamp (milliseconds since the epoch, truncated)."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def envelope_for(
    record: type[AvroRecord],
    *,
    event_id: uuid.UUID,
    occurred_at: datetime,
    recorded_at: datetime,
    source_agency: str,
    correlation_id: str,
    causation_id: uuid.UUID | None = None,
    subject: RecordRef | None = None,
    contract: ContractRegistry | None = None,
) -> Envelope:
    """The envelope of a new ``record``: ``event_type`` and ``schema_fingerprint`` are filled from the
    record's current schema (the encoder sets the same values; building them here keeps models honest)."""
    found = (contract or registry()).for_model(record)
    return Envelope(
        event_id=event_id,
        event_type=found.short_name,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        source_agency=source_agency,
        correlation_id=correlation_id,
        causation_id=causation_id,
        subject=subject,
        schema_fingerprint=found.current.fingerprint_hex,
    )


CONTENT_TYPE = b"application/avro"
"""The ``content-type`` header of every joinedup record on Kafka."""


def cloudevents_headers(record: Event) -> list[tuple[str, bytes]]:
    """Kafka headers for ``record`` in the CloudEvents Kafka binding (binary mode), so tools can route and
    filter without decoding: ``ce_id`` = event_id, ``ce_type`` = the record's full name, ``ce_source`` = the
    source agency, ``ce_subject`` = the subject record (``<agency>/<local_person_id>``, a record reference, no
    personal data), ``ce_time`` = occurred_at. The body stays the only source of truth."""
    envelope = record.envelope
    subject = envelope.subject
    return _cloudevents_headers(
        record.avro_name,
        envelope.event_id,
        envelope.source_agency,
        None if subject is None else f"{subject.agency}/{subject.local_person_id}",
        envelope.occurred_at,
    )


def cloudevents_headers_of(avro_name: str, envelope: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The same headers from an envelope in dict form (a record that was never built as a model)."""
    subject = envelope.get("subject")
    return _cloudevents_headers(
        avro_name,
        envelope["event_id"],
        envelope["source_agency"],
        None if subject is None else f"{subject['agency']}/{subject['local_person_id']}",
        envelope["occurred_at"],
    )


def _cloudevents_headers(
    avro_name: str, event_id: object, source_agency: object, subject: str | None, occurred_at: datetime
) -> list[tuple[str, bytes]]:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(event_id).encode()),
        ("ce_type", avro_name.encode()),
        ("ce_source", str(source_agency).encode()),
    ]
    if subject is not None:
        headers.append(("ce_subject", subject.encode()))
    headers.append(("ce_time", occurred_at.astimezone(UTC).isoformat().encode()))
    headers.append(("content-type", CONTENT_TYPE))
    return headers
