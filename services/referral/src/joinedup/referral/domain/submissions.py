"""What agencies submit on their intake topic (mirrors of the contract's joinedup.intake.* records).

Each submission has an idempotency key (the agency, its own reference and the step it reports) and a content
hash. The same key with the same hash is a duplicate; the same key with another hash is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from joinedup.referral.domain.envelope import Envelope, UtcDatetime
from joinedup.referral.domain.person import PersonRecord

Urgency = Literal["routine", "urgent", "emergency"]
ResponseAction = Literal["accept", "decline", "close"]
AssessmentRecordStatus = Literal["scheduled", "started", "completed", "cancelled"]

_KEY_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""``json.dumps(parts, separators=(",", ":"), ensure_ascii=False)`` without building an encoder per call."""

# Envelope fields that differ between two publications of the same submission and so are not its content.
_NOT_CONTENT = {"event_id", "recorded_at", "schema_fingerprint"}


class _Submission(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    envelope: Envelope


class ReferralLink(BaseModel):
    """A referral, named by the agency that made it and that agency's reference."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    agency: str
    referral_ref: str


class ReferralSubmission(_Submission):
    """An agency refers a person to another agency."""

    referral_ref: str
    subject: PersonRecord
    to_agency: str
    to_service: str | None = None
    need_codes: tuple[str, ...]
    requested_assessment_type: str | None = None
    urgency: Urgency
    referred_at: UtcDatetime
    data_categories: tuple[str, ...]
    summary: str | None = None


class ReferralResponse(_Submission):
    """The receiving agency accepts, declines or closes a referral made to it."""

    referral_ref: str
    referring_agency: str
    action: ResponseAction
    reason: str | None = None
    responded_at: UtcDatetime


class ReferralWithdrawal(_Submission):
    """The referring agency withdraws one of its own referrals."""

    referral_ref: str
    reason: str
    withdrawn_at: UtcDatetime


class AssessmentRecord(_Submission):
    """An agency reports an assessment's progress, standalone or as part of a referral made to it."""

    assessment_ref: str
    subject: PersonRecord
    assessment_type: str
    status: AssessmentRecordStatus
    occurred_at: UtcDatetime
    referral: ReferralLink | None = None
    data_categories: tuple[str, ...]


class ContactRecord(_Submission):
    """An agency reports a contact with a person (a call-out, an A&E attendance, a home visit, ...)."""

    contact_ref: str
    subject: PersonRecord
    contact_type: str
    occurred_at: UtcDatetime
    summary: str | None = None
    related_refs: tuple[str, ...] = ()
    data_categories: tuple[str, ...]


Submission = ReferralSubmission | ReferralResponse | ReferralWithdrawal | AssessmentRecord | ContactRecord

SUBMISSION_TYPES: dict[str, type[Submission]] = {
    cls.__name__: cls
    for cls in (ReferralSubmission, ReferralResponse, ReferralWithdrawal, AssessmentRecord, ContactRecord)
}
"""The intake record short names this service owns, with their models (ConsentStatement is not ours)."""


def submission_ref(submission: Submission) -> str:
    """The agency's own reference the submission is about (the key of its receipt)."""
    if isinstance(submission, AssessmentRecord):
        return submission.assessment_ref
    if isinstance(submission, ContactRecord):
        return submission.contact_ref
    return submission.referral_ref


def submission_key(submission: Submission, agency: str) -> str:
    """The idempotency key: which agency reports which step about which of its references.

    Each key is accepted at most once. A referral is reported once; a response once per action; a withdrawal
    once; an assessment once per status; a contact once.
    """
    parts: tuple[str, ...]
    match submission:
        case ReferralSubmission() | ReferralWithdrawal():
            parts = (type(submission).__name__, agency, submission.referral_ref)
        case ReferralResponse():
            parts = (
                "ReferralResponse",
                agency,
                submission.referring_agency,
                submission.referral_ref,
                submission.action,
            )
        case AssessmentRecord():
            parts = ("AssessmentRecord", agency, submission.assessment_ref, submission.status)
        case ContactRecord():
            parts = ("ContactRecord", agency, submission.contact_ref)
    return _KEY_JSON.encode(parts)


def content_hash(submission: Submission) -> str:
    """SHA-256 of the submission type and its JSON, ignoring the envelope's event_id, recorded_at and writer
    schema fingerprint (which differ between two publications of the same content). Fields serialise in model
    order and times in UTC, so equal content always hashes alike."""
    digest = hashlib.sha256(type(submission).__name__.encode())
    digest.update(b"\x00")
    digest.update(submission.model_dump_json(exclude={"envelope": _NOT_CONTENT}).encode())
    return digest.hexdigest()
