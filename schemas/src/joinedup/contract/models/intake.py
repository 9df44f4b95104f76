"""Submissions agencies publish on ``joinedup.intake.<agency>``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from joinedup.contract.models.base import Int32
from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import ConsentScope, PersonRecord, ReferralLink


class AssessmentRecord(Event):
    """An agency reports an assessment of a person: scheduled, started, completed or cancelled."""

    avro_name: ClassVar[str] = "joinedup.intake.AssessmentRecord"
    assessment_ref: str
    subject: PersonRecord
    assessment_type: str
    status: str
    occurred_at: AwareDatetime
    referral: ReferralLink | None = None
    data_categories: tuple[str, ...]


class ConsentStatement(Event):
    """A person's consent, withdrawal, objection or lifted objection, as captured by an agency."""

    avro_name: ClassVar[str] = "joinedup.intake.ConsentStatement"
    statement_ref: str
    version: Int32
    subject: PersonRecord
    kind: str
    scope: ConsentScope
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    captured_by: str
    evidence_ref: str | None = None


class ContactRecord(Event):
    """An agency reports a contact with a person: a police call-out, an A&E attendance, a home visit..."""

    avro_name: ClassVar[str] = "joinedup.intake.ContactRecord"
    contact_ref: str
    subject: PersonRecord
    contact_type: str
    occurred_at: AwareDatetime
    summary: str | None = None
    related_refs: tuple[str, ...]
    data_categories: tuple[str, ...]
    duration_minutes: Int32 | None = None


class ReferralResponse(Event):
    """The receiving agency accepts, declines or closes a referral made to it."""

    avro_name: ClassVar[str] = "joinedup.intake.ReferralResponse"
    referral_ref: str
    referring_agency: str
    action: str
    reason: str | None = None
    responded_at: AwareDatetime


class ReferralSubmission(Event):
    """An agency refers a person to another agency (published on joinedup.intake.<agency>)."""

    avro_name: ClassVar[str] = "joinedup.intake.ReferralSubmission"
    referral_ref: str
    subject: PersonRecord
    to_agency: str
    to_service: str | None = None
    need_codes: tuple[str, ...]
    requested_assessment_type: str | None = None
    urgency: str
    referred_at: AwareDatetime
    data_categories: tuple[str, ...]
    summary: str | None = None


class ReferralWithdrawal(Event):
    """The referring agency withdraws a referral it made that is still open."""

    avro_name: ClassVar[str] = "joinedup.intake.ReferralWithdrawal"
    referral_ref: str
    reason: str
    withdrawn_at: AwareDatetime
