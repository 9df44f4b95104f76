"""Envelopes: deterministic ids, times from Kafka timestamps, and the factory filling type and fingerprint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from joinedup.contract.envelope import (
    EVENT_ID_NAMESPACE,
    envelope_for,
    event_id_for,
    from_kafka_timestamp,
    to_kafka_timestamp,
)
from joinedup.contract.models.referral import ReferralReceived
from joinedup.contract.models.shared_records import RecordRef
from joinedup.contract.schemas import ContractRegistry


def test_the_same_source_coordinates_always_give_the_same_event_id() -> None:
    first = event_id_for("ReferralReceived", "police", "REF-1")
    assert first == event_id_for("ReferralReceived", "police", "REF-1")
    assert first.version == 5


def test_different_source_coordinates_give_different_event_ids() -> None:
    assert event_id_for("joinedup.intake.police", 0, 41) != event_id_for("joinedup.intake.police", 0, 42)


def test_the_event_id_namespace_is_derived_from_a_documented_name() -> None:
    # docs/contract.md tells other languages how to compute ids: uuid5(uuid5(URL, "urn:joinedup:event"), ...)
    assert uuid.uuid5(uuid.NAMESPACE_URL, "urn:joinedup:event") == EVENT_ID_NAMESPACE
    assert event_id_for("a", 1) == uuid.uuid5(EVENT_ID_NAMESPACE, "a/1")


def test_an_event_id_needs_coordinates() -> None:
    with pytest.raises(ValueError, match="coordinate"):
        event_id_for()


def test_a_kafka_timestamp_becomes_an_aware_utc_time_and_back() -> None:
    moment = from_kafka_timestamp(1_772_443_815_250)
    assert moment == datetime(2026, 3, 2, 9, 30, 15, 250_000, tzinfo=UTC)
    assert to_kafka_timestamp(moment) == 1_772_443_815_250
    assert to_kafka_timestamp(moment.astimezone(timezone(timedelta(hours=1)))) == 1_772_443_815_250


def test_a_naive_time_has_no_kafka_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_kafka_timestamp(datetime(2026, 3, 2, 9, 30))


def test_envelope_for_fills_the_event_type_and_the_current_fingerprint(contract: ContractRegistry) -> None:
    subject = RecordRef(agency="police", local_person_id="P-1")
    moment = from_kafka_timestamp(0)
    envelope = envelope_for(
        ReferralReceived,
        event_id=event_id_for("x"),
        occurred_at=moment,
        recorded_at=moment,
        source_agency="police",
        correlation_id="police/REF-1",
        subject=subject,
    )
    assert envelope.event_type == "ReferralReceived"
    assert envelope.schema_fingerprint == contract.for_model(ReferralReceived).current.fingerprint_hex
    assert envelope.subject == subject
    assert envelope.causation_id is None
