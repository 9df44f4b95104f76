"""Canonical events that carry person records, for feeding the identity worker in tests, benchmarks and the
demo: each person record becomes a ``ContactRecorded`` (every third a ``ReferralReceived``) by its agency,
with a deterministic event id."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from joinedup.contract.envelope import envelope_for, event_id_for
from joinedup.contract.models.event import Event
from joinedup.contract.models.referral import ContactRecorded, ReferralReceived
from joinedup.contract.models.shared_records import PersonRecord, RecordRef

FEED_SOURCE = "identity-feed"


def canonical_event(agency: str, person: Mapping[str, Any], sequence: int, at: datetime) -> Event:
    """The ``sequence``-th canonical event of a feed, about ``person`` (PersonRecord fields) at ``agency``."""
    subject = PersonRecord.model_validate(dict(person))
    ref = RecordRef(agency=agency, local_person_id=subject.local_person_id)
    kind: type[Event] = ReferralReceived if sequence % 3 == 0 else ContactRecorded
    envelope = envelope_for(
        kind,
        event_id=event_id_for(FEED_SOURCE, agency, sequence),
        occurred_at=at,
        recorded_at=at,
        source_agency=agency,
        correlation_id=f"{FEED_SOURCE}/{sequence}",
        subject=ref,
    )
    if kind is ReferralReceived:
        return ReferralReceived(
            envelope=envelope,
            referral_ref=f"R-{sequence}",
            referring_agency=agency,
            to_agency="council-housing" if agency != "council-housing" else "council-asc",
            subject=subject,
            need_codes=("accommodation",),
            urgency="routine",
            referred_at=at,
            data_categories=("identity",),
        )
    return ContactRecorded(
        envelope=envelope,
        contact_ref=f"C-{sequence}",
        agency=agency,
        subject=subject,
        contact_type="police-callout",
        occurred_at=at,
        related_refs=(),
        data_categories=("identity",),
    )
