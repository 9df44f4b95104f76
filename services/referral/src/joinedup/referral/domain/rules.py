"""Stateless intake checks: small named rules, each raising a named rejection.

``validate`` runs them in a fixed order and the submission gets the first one it breaks: the agency's
identity, then required fields, vocabulary codes, identifiers and dates. ``now`` is the Kafka timestamp of
the input, so a replay decides exactly as the first run did.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from joinedup.referral.domain.envelope import Envelope
from joinedup.referral.domain.errors import (
    DateBefore1900,
    DateInFuture,
    ForgedAgency,
    InvalidNhsNumber,
    InvalidNiNumber,
    MissingField,
    Rejection,
    SubjectMismatch,
    UnknownAgency,
    UnknownAssessmentType,
    UnknownContactType,
    UnknownDataCategory,
    UnknownNeedCode,
)
from joinedup.referral.domain.person import PersonRecord
from joinedup.referral.domain.reference import ReferenceData
from joinedup.referral.domain.submissions import (
    AssessmentRecord,
    ContactRecord,
    ReferralResponse,
    ReferralSubmission,
    ReferralWithdrawal,
    Submission,
)

FUTURE_TOLERANCE = timedelta(minutes=15)
"""How far ahead of the input's Kafka timestamp a reported time may lie (agency clocks drift)."""

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


# ---------------------------------------------------------------- identity


def check_source_agency(envelope: Envelope, agency: str) -> None:
    """The envelope may only claim the agency whose topic carried it."""
    if envelope.source_agency != agency:
        raise ForgedAgency(
            "envelope.source_agency",
            f"envelope.source_agency is not {agency!r}, the agency whose intake topic carried the submission",
        )


def check_envelope_subject(envelope: Envelope, agency: str, subject: PersonRecord | None) -> None:
    """An envelope's subject record must be the submitting agency's own record, and the body's subject."""
    if envelope.subject is None:
        return
    if envelope.subject.agency != agency:
        raise ForgedAgency(
            "envelope.subject.agency",
            f"envelope.subject is not a record of {agency!r}, the agency whose intake topic carried it",
        )
    if subject is not None and envelope.subject.local_person_id != subject.local_person_id:
        raise SubjectMismatch(
            "envelope.subject.local_person_id",
            "envelope subject and submission subject are different records",
        )


# ---------------------------------------------------------------- required fields


def require_text(value: str | None, field: str) -> None:
    if value is None or not value.strip():
        raise MissingField(field, f"{field} is required and may not be blank")


def require_some(values: tuple[str, ...], field: str) -> None:
    if not values:
        raise MissingField(field, f"{field} needs at least one entry")


# ---------------------------------------------------------------- vocabulary codes


def check_codes(codes: Iterable[str], field: str, known: frozenset[str], error: type[Rejection]) -> None:
    """Every code must be known; the first unknown one (in submission order) is reported."""
    for index, code in enumerate(codes):
        if code not in known:
            raise error(f"{field}[{index}]", f"{field}[{index}] is not a known code")


def check_code(code: str, field: str, known: frozenset[str], error: type[Rejection]) -> None:
    if code not in known:
        raise error(field, f"{field} is not a known code")


def check_to_agency(code: str, reference: ReferenceData) -> None:
    check_code(code, "to_agency", reference.agencies, UnknownAgency)


def check_need_codes(codes: tuple[str, ...], reference: ReferenceData) -> None:
    require_some(codes, "need_codes")
    check_codes(codes, "need_codes", reference.need_codes, UnknownNeedCode)


def check_data_categories(codes: tuple[str, ...], reference: ReferenceData) -> None:
    require_some(codes, "data_categories")
    check_codes(codes, "data_categories", reference.data_categories, UnknownDataCategory)


def check_assessment_type(code: str, field: str, reference: ReferenceData) -> None:
    check_code(code, field, reference.assessment_types, UnknownAssessmentType)


def check_contact_type(code: str, reference: ReferenceData) -> None:
    check_code(code, "contact_type", reference.contact_types, UnknownContactType)


# ---------------------------------------------------------------- identifiers


def check_nhs_number(subject: PersonRecord, reference: ReferenceData) -> None:
    if subject.nhs_number is not None and not reference.nhs_number_is_valid(subject.nhs_number):
        raise InvalidNhsNumber("subject.nhs_number", "subject.nhs_number fails the NHS number check")


def check_ni_number(subject: PersonRecord, reference: ReferenceData) -> None:
    if subject.ni_number is not None and not reference.ni_number_is_valid(subject.ni_number):
        raise InvalidNiNumber(
            "subject.ni_number", "subject.ni_number is not a valid National Insurance number"
        )


# ---------------------------------------------------------------- dates


def check_instant(value: datetime, field: str, now: datetime, tolerance: timedelta) -> None:
    """Not before 1900, not in the future by more than the tolerance."""
    if value < EARLIEST:
        raise DateBefore1900(field, f"{field} is before 1900")
    if value > now + tolerance:
        raise DateInFuture(field, f"{field} is more than {tolerance} after the submission was received")


def check_date_of_birth(subject: PersonRecord, now: datetime) -> None:
    born = subject.date_of_birth
    if born is None:
        return
    if born < date(1900, 1, 1):
        raise DateBefore1900("subject.date_of_birth", "subject.date_of_birth is before 1900")
    if born > now.astimezone(UTC).date():
        raise DateInFuture("subject.date_of_birth", "subject.date_of_birth is after the day of receipt")


# ---------------------------------------------------------------- per submission


def check_subject(subject: PersonRecord, reference: ReferenceData, now: datetime) -> None:
    """The subject's required id, identifiers and date of birth."""
    require_text(subject.local_person_id, "subject.local_person_id")
    check_nhs_number(subject, reference)
    check_ni_number(subject, reference)
    check_date_of_birth(subject, now)


def check_identity(submission: Submission, agency: str) -> None:
    """The submission speaks only for the agency whose topic carried it."""
    check_source_agency(submission.envelope, agency)
    subject = (
        submission.subject
        if isinstance(submission, ReferralSubmission | AssessmentRecord | ContactRecord)
        else None
    )
    check_envelope_subject(submission.envelope, agency, subject)


def validate(
    submission: Submission,
    agency: str,
    reference: ReferenceData,
    now: datetime,
    tolerance: timedelta = FUTURE_TOLERANCE,
) -> None:
    """Every stateless check, in order; raises the first rejection the submission earns."""
    check_identity(submission, agency)
    check_instant(submission.envelope.occurred_at, "envelope.occurred_at", now, tolerance)
    match submission:
        case ReferralSubmission():
            require_text(submission.referral_ref, "referral_ref")
            require_text(submission.to_agency, "to_agency")
            check_to_agency(submission.to_agency, reference)
            check_need_codes(submission.need_codes, reference)
            if submission.requested_assessment_type is not None:
                check_assessment_type(
                    submission.requested_assessment_type, "requested_assessment_type", reference
                )
            check_data_categories(submission.data_categories, reference)
            check_subject(submission.subject, reference, now)
            check_instant(submission.referred_at, "referred_at", now, tolerance)
        case ReferralResponse():
            require_text(submission.referral_ref, "referral_ref")
            require_text(submission.referring_agency, "referring_agency")
            if submission.action == "decline":
                require_text(submission.reason, "reason")
            check_instant(submission.responded_at, "responded_at", now, tolerance)
        case ReferralWithdrawal():
            require_text(submission.referral_ref, "referral_ref")
            require_text(submission.reason, "reason")
            check_instant(submission.withdrawn_at, "withdrawn_at", now, tolerance)
        case AssessmentRecord():
            require_text(submission.assessment_ref, "assessment_ref")
            if submission.referral is not None:
                require_text(submission.referral.agency, "referral.agency")
                require_text(submission.referral.referral_ref, "referral.referral_ref")
            check_assessment_type(submission.assessment_type, "assessment_type", reference)
            check_data_categories(submission.data_categories, reference)
            check_subject(submission.subject, reference, now)
            check_instant(submission.occurred_at, "occurred_at", now, tolerance)
        case ContactRecord():
            require_text(submission.contact_ref, "contact_ref")
            check_contact_type(submission.contact_type, reference)
            check_data_categories(submission.data_categories, reference)
            check_subject(submission.subject, reference, now)
            check_instant(submission.occurred_at, "occurred_at", now, tolerance)
