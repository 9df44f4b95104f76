"""Building and publishing a human assertion ("same person" / "different persons") on
``joinedup.identity.assertions``, where the resolver reads it and honours it from then on."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from kafka import KafkaProducer

from joinedup.contract.envelope import cloudevents_headers, envelope_for
from joinedup.contract.kafka import producer
from joinedup.contract.models.identity import DifferentPersonsAsserted, SamePersonAsserted
from joinedup.contract.models.shared_records import RecordRef
from joinedup.contract.serde import default_codec
from joinedup.contract.vocabularies import vocabularies
from joinedup.projections.identity.mapping import assertion_key
from joinedup.projections.identity.records import RecordRef as DomainRecordRef

AssertionKind = Literal["same", "different"]


class BadRecordReferenceError(ValueError):
    """A record reference that is not ``<agency>/<local_person_id>`` with a known agency."""


def parse_record_ref(text: str) -> RecordRef:
    """``"police/PN-0001"`` -> RecordRef (the agency must be in the vocabulary)."""
    agency, sep, local_id = text.partition("/")
    if not sep or not agency or not local_id:
        raise BadRecordReferenceError(f"{text!r} is not <agency>/<local_person_id>")
    if agency not in vocabularies().agencies:
        raise BadRecordReferenceError(f"{agency!r} is not a known agency")
    return RecordRef(agency=agency, local_person_id=local_id)


def build_assertion(
    kind: AssertionKind,
    first: RecordRef,
    second: RecordRef,
    *,
    asserted_by: str,
    reason: str,
    at: datetime,
    assertion_id: uuid.UUID,
    source_agency: str,
) -> SamePersonAsserted | DifferentPersonsAsserted:
    """The assertion event; its event id is the assertion id."""
    if first == second:
        raise BadRecordReferenceError("an assertion needs two different records")
    model = SamePersonAsserted if kind == "same" else DifferentPersonsAsserted
    envelope = envelope_for(
        model,
        event_id=assertion_id,
        occurred_at=at,
        recorded_at=at,
        source_agency=source_agency,
        correlation_id=str(assertion_id),
        subject=first,
    )
    return model(
        envelope=envelope,
        assertion_id=str(assertion_id),
        first=first,
        second=second,
        asserted_by=asserted_by,
        reason=reason,
        asserted_at=at,
    )


def publish_assertion(
    bootstrap: str, topic: str, assertion: SamePersonAsserted | DifferentPersonsAsserted
) -> None:
    """Publish and wait for the broker's acknowledgement (idempotent producer, acks=all)."""
    sender: KafkaProducer = producer(bootstrap, "joinedup.projections.identity-assert")
    try:
        key = assertion_key(
            DomainRecordRef(agency=assertion.first.agency, local_person_id=assertion.first.local_person_id),
            DomainRecordRef(agency=assertion.second.agency, local_person_id=assertion.second.local_person_id),
        )
        sender.send(
            topic,
            value=default_codec().encode(assertion),
            key=key.encode(),
            headers=cloudevents_headers(assertion),
        ).get(timeout=30)
    finally:
        sender.close(timeout=10)
