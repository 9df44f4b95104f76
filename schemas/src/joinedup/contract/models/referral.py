"""Canonical referral, assessment and contact events on ``joinedup.referral.events``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import PersonRecord, ReferralLink


class AssessmentCancelled(Event):
    """An assessment was cancelled."""

    avro_name: ClassVar[str] = "joinedup.referral.AssessmentCancelled"
    assessment_ref: str
    agency: str
    subject: PersonRecord
    assessment_type: str
    occurred_at: AwareDatetime
    referral: ReferralLink | None = None
    data_categories: tuple[str, ...]


class AssessmentCompleted(Event):
    """An assessment was completed."""

    avro_name: ClassVar[str] = "joinedup.referral.AssessmentCompleted"
    assessment_ref: str
    agency: str
    subject: PersonRecord
    assessment_type: str
    occurred_at: AwareDatetime
    referral: ReferralLink | None = None
    data_categories: tuple[str, ...]


class AssessmentScheduled(Event):
    """An assessment was scheduled."""

    avro_name: ClassVar[str] = "joinedup.referral.AssessmentScheduled"
    assessment_ref: str
    agency: str
    subject: PersonRecord
    assessment_type: str
    occurred_at: AwareDatetime
    referral: ReferralLink | None = None
    data_categories: tuple[str, ...]


class AssessmentStarted(Event):
    """An assessment started."""

    avro_name: ClassVar[str] = "joinedup.referral.AssessmentStarted"
    assessment_ref: str
    agency: str
    subject: PersonRecord
    assessment_type: str
    occurred_at: AwareDatetime
    referral: ReferralLink | None = None
    data_categories: tuple[str, ...]


class ContactRecorded(Event):
    """An agency had a contact with a person."""

    avro_name: ClassVar[str] = "joinedup.referral.ContactRecorded"
    contact_ref: str
    agency: str
    subject: PersonRecord
    contact_type: str
    occurred_at: AwareDatetime
    summary: str | None = None
    related_refs: tuple[str, ...]
    data_categories: tuple[str, ...]


class ReferralAccepted(Event):
    """The receiving agency accepted a referral."""

    avro_name: ClassVar[str] = "joinedup.referral.ReferralAccepted"
    referral_ref: str
    referring_agency: str
    receiving_agency: str
    reason: str | None = None
    accepted_at: AwareDatetime


class ReferralClosed(Event):
    """The receiving agency closed a referral."""

    avro_name: ClassVar[str] = "joinedup.referral.ReferralClosed"
    referral_ref: str
    referring_agency: str
    receiving_agency: str
    reason: str | None = None
    closed_at: AwareDatetime


class ReferralDeclined(Event):
    """The receiving agency declined a referral."""

    avro_name: ClassVar[str] = "joinedup.referral.ReferralDeclined"
    referral_ref: str
    referring_agency: str
    receiving_agency: str
    reason: str
    declined_at: AwareDatetime


class ReferralReceived(Event):
    """A referral was received from an agency and accepted for processing."""

    avro_name: ClassVar[str] = "joinedup.referral.ReferralReceived"
    referral_ref: str
    referring_agency: str
    to_agency: str
    to_service: str | None = None
    subject: PersonRecord
    need_codes: tuple[str, ...]
    requested_assessment_type: str | None = None
    urgency: str
    referred_at: AwareDatetime
    data_categories: tuple[str, ...]
    summary: str | None = None


class ReferralWithdrawn(Event):
    """The referring agency withdrew a referral while it was still open."""

    avro_name: ClassVar[str] = "joinedup.referral.ReferralWithdrawn"
    referral_ref: str
    referring_agency: str
    receiving_agency: str
    reason: str
    withdrawn_at: AwareDatetime
