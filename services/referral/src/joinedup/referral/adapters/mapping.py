"""Domain <-> contract: decoded intake records into the service's input form, and the service's events and
receipts into the contract's models (the Avro records). Field names are the same on both sides (the contract
mirrors the referral domain); what differs is types: the contract holds ids as UUIDs, the domain as
strings."""

from __future__ import annotations

from typing import Any

from joinedup.contract.models import receipts as contract_receipts
from joinedup.contract.models import referral as contract_events
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event
from joinedup.contract.streams import Datum
from joinedup.referral.domain.events import EVENT_TYPES, ReferralEvent
from joinedup.referral.domain.receipts import Receipt, SubmissionAccepted, SubmissionRejected

EVENTS_NAMESPACE = "joinedup.referral"
RECEIPTS_NAMESPACE = "joinedup.receipts"

CONTRACT_EVENTS: dict[str, type[Event]] = {
    name: getattr(contract_events, name) for name in sorted(EVENT_TYPES)
}
"""The contract model of every canonical event, by short name."""


def submission_fields(record: AvroRecord) -> dict[str, Any]:
    """A decoded intake record as the fields the referral's input models read (envelope ids as strings)."""
    fields = record.model_dump()
    envelope = fields.get("envelope")
    if isinstance(envelope, dict):
        envelope["event_id"] = str(envelope["event_id"])
        if envelope.get("causation_id") is not None:
            envelope["causation_id"] = str(envelope["causation_id"])
    return fields


def event_to_contract(event: ReferralEvent) -> Event:
    """A canonical event as its contract model (``schema_fingerprint`` is stamped by the encoder)."""
    return CONTRACT_EVENTS[type(event).__name__].model_validate(event.model_dump())


def event_datum(event: ReferralEvent) -> Datum:
    """A canonical event in the encoder's dict form, without building the contract model (the hot path;
    tests/unit/test_mapping.py shows it encodes to the same bytes as ``event_to_contract``)."""
    return Datum(
        f"{EVENTS_NAMESPACE}.{type(event).__name__}",
        event.model_dump(),
        event.envelope.event_id,
        event.envelope.recorded_at,
    )


def receipt_datum(receipt: Receipt) -> Datum:
    """A receipt in the encoder's dict form (see ``event_datum``)."""
    return Datum(
        f"{RECEIPTS_NAMESPACE}.{type(receipt).__name__}",
        receipt.model_dump(),
        receipt.envelope.event_id,
        receipt.envelope.recorded_at,
    )


def receipt_to_contract(
    receipt: Receipt,
) -> contract_receipts.SubmissionAccepted | contract_receipts.SubmissionRejected:
    """A receipt as its contract model."""
    if isinstance(receipt, SubmissionAccepted):
        return contract_receipts.SubmissionAccepted.model_validate(receipt.model_dump())
    if isinstance(receipt, SubmissionRejected):
        return contract_receipts.SubmissionRejected.model_validate(receipt.model_dump())
    raise TypeError(type(receipt).__name__)
