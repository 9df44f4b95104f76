"""Canonical events this service writes to ``joinedup.referral.events`` (names fixed by the contract).

Every event carries the envelope first. Its event_id is deterministic (see ``event_ids``), its times come from
the submission and the input's Kafka timestamp, never from a clock.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from joinedup.referral.domain.envelope import Envelope, UtcDatetime
from joinedup.referral.domain.person import PersonRecord
from joinedup.referral.domain.submissions import ReferralLink, Urgency


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    envelope: Envelope


class ReferralReceived(_Event):
    referral_ref: str
    referring_agency: str
    to_agency: str
    to_service: str | None
    subject: PersonRecord
    need_codes: tuple[str, ...]
    requested_assessment_type: str | None
    urgency: Urgency
    referred_at: UtcDatetime
    data_categories: tuple[str, ...]
    summary: str | None


class _ReferralStep(_Event):
    referral_ref: str
    referring_agency: str
    receiving_agency: str


class ReferralAccepted(_ReferralStep):
    reason: str | None
    accepted_at: UtcDatetime


class ReferralDeclined(_ReferralStep):
    reason: str
    declined_at: UtcDatetime


class ReferralClosed(_ReferralStep):
    reason: str | None
    closed_at: UtcDatetime


class ReferralWithdrawn(_ReferralStep):
    reason: str
    withdrawn_at: UtcDatetime


class _AssessmentStep(_Event):
    assessment_ref: str
    agency: str
    subject: PersonRecord
    assessment_type: str
    occurred_at: UtcDatetime
    referral: ReferralLink | None
    data_categories: tuple[str, ...]


class AssessmentScheduled(_AssessmentStep):
    pass


class AssessmentStarted(_AssessmentStep):
    pass


class AssessmentCompleted(_AssessmentStep):
    pass


class AssessmentCancelled(_AssessmentStep):
    pass


class ContactRecorded(_Event):
    contact_ref: str
    agency: str
    subject: PersonRecord
    contact_type: str
    occurred_at: UtcDatetime
    summary: str | None
    related_refs: tuple[str, ...]
    data_categories: tuple[str, ...]


ReferralLifecycleEvent = (
    ReferralReceived | ReferralAccepted | ReferralDeclined | ReferralClosed | ReferralWithdrawn
)
AssessmentEvent = AssessmentScheduled | AssessmentStarted | AssessmentCompleted | AssessmentCancelled
ReferralEvent = ReferralLifecycleEvent | AssessmentEvent | ContactRecorded

EVENT_TYPES: dict[str, type[ReferralEvent]] = {
    cls.__name__: cls
    for cls in (
        ReferralReceived,
        ReferralAccepted,
        ReferralDeclined,
        ReferralClosed,
        ReferralWithdrawn,
        AssessmentScheduled,
        AssessmentStarted,
        AssessmentCompleted,
        AssessmentCancelled,
        ContactRecorded,
    )
}
"""Every canonical event this service writes, by short name (= Avro record name)."""
