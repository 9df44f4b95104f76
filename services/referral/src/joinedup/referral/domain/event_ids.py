"""Deterministic ids: a UUIDv5 of an event's source coordinates, so a re-emission carries the same id."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:joinedup:referral")
"""The UUIDv5 namespace of every id this service derives."""


def derived_id(*coordinates: str | int) -> str:
    """UUIDv5 of the coordinates, each length-prefixed (``7:council3:R-1``): no two tuples share a name."""
    name = "".join(f"{len(part)}:{part}" for part in map(str, coordinates))
    return str(uuid.uuid5(NAMESPACE, name))


def referral_event_id(referring_agency: str, referral_ref: str, event_type: str) -> str:
    return derived_id("referral", referring_agency, referral_ref, event_type)


def assessment_event_id(agency: str, assessment_ref: str, event_type: str) -> str:
    return derived_id("assessment", agency, assessment_ref, event_type)


def contact_event_id(agency: str, contact_ref: str) -> str:
    return derived_id("contact", agency, contact_ref, "ContactRecorded")


def accepted_receipt_id(key: str) -> str:
    """A submission key is accepted at most once, so its receipt id follows from the key alone."""
    return derived_id("SubmissionAccepted", key)


def rejected_receipt_id(topic: str, partition: int, offset: int) -> str:
    """A rejection changes nothing and has no key of its own: its id follows from where the input was read."""
    return derived_id("SubmissionRejected", topic, partition, offset)
