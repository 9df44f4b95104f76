"""Named rejections. Each carries a reason code (documented in docs/referral-reason-codes.md), the field at
fault and a human message. Messages name fields, codes and agency references only, never personal data: they
travel in receipts and may reach logs."""

from __future__ import annotations

from typing import ClassVar


class Rejection(Exception):
    """A submission broke a rule; it changes nothing and is answered with a SubmissionRejected receipt."""

    reason_code: ClassVar[str] = "rejected"
    meaning: ClassVar[str] = "The submission was rejected."

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{self.reason_code}: {message}")
        self.field = field
        self.message = message


class MissingField(Rejection):
    reason_code = "missing-field"
    meaning = "A required field is absent or blank (or a required list is empty)."


class InvalidValue(Rejection):
    reason_code = "invalid-value"
    meaning = (
        "A field has the wrong type or a value outside its allowed set (urgency, response action, assessment "
        "status), or a timestamp has no time zone."
    )


class ForgedAgency(Rejection):
    reason_code = "forged-agency"
    meaning = (
        "The envelope's source_agency, or the agency of the envelope's subject record, is not the agency "
        "whose intake topic carried the submission. The topic's agency is the truth; the body is never "
        "trusted."
    )


class SubjectMismatch(Rejection):
    reason_code = "subject-mismatch"
    meaning = "The envelope's subject names a different local person id from the submission's subject."


class UnknownAgency(Rejection):
    reason_code = "unknown-agency"
    meaning = "to_agency is not in the agencies vocabulary."


class UnknownAssessmentType(Rejection):
    reason_code = "unknown-assessment-type"
    meaning = "assessment_type (or requested_assessment_type) is not in the assessment types vocabulary."


class UnknownContactType(Rejection):
    reason_code = "unknown-contact-type"
    meaning = "contact_type is not in the contact types vocabulary."


class UnknownNeedCode(Rejection):
    reason_code = "unknown-need-code"
    meaning = "A need code is not in the need codes vocabulary."


class UnknownDataCategory(Rejection):
    reason_code = "unknown-data-category"
    meaning = "A data category is not in the data categories vocabulary."


class DateInFuture(Rejection):
    reason_code = "date-in-future"
    meaning = (
        "A time lies in the future by more than the tolerance (15 minutes by default), measured against the "
        "Kafka timestamp of the submission; a date of birth may not be after that day."
    )


class DateBefore1900(Rejection):
    reason_code = "date-before-1900"
    meaning = "A date or time is before 1 January 1900."


class InvalidNhsNumber(Rejection):
    reason_code = "invalid-nhs-number"
    meaning = (
        "subject.nhs_number is not ten digits with a correct mod-11 check digit (spaces and hyphens are "
        "ignored; ten repeated digits are refused)."
    )


class InvalidNiNumber(Rejection):
    reason_code = "invalid-ni-number"
    meaning = (
        "subject.ni_number is not two issued prefix letters, six digits and an optional suffix A-D "
        "(spaces are ignored)."
    )


class UnknownReferral(Rejection):
    reason_code = "unknown-referral"
    meaning = "No referral with that referring agency and referral_ref has been received."


class NotReceivingAgency(Rejection):
    reason_code = "not-receiving-agency"
    meaning = (
        "Only the agency a referral was made to may accept, decline or close it, or report assessments "
        "under it."
    )


class NotReferringAgency(Rejection):
    reason_code = "not-referring-agency"
    meaning = (
        "Only the agency that made a referral may withdraw it (the receiving agency declines or closes)."
    )


class IllegalTransition(Rejection):
    reason_code = "illegal-transition"
    meaning = (
        "The step is not allowed from the current state: e.g. accepting a withdrawn referral, closing one "
        "that was never accepted, an assessment under a referral that is not accepted, or an assessment "
        "going back (nothing follows completed or cancelled)."
    )


class Conflict(Rejection):
    reason_code = "conflict"
    meaning = (
        "The same agency reference (and step) was already accepted with different content, or a later "
        "assessment record changes its subject, type or referral. Resubmissions are never merged: send a new "
        "reference instead."
    )


REJECTIONS: tuple[type[Rejection], ...] = (
    MissingField,
    InvalidValue,
    ForgedAgency,
    SubjectMismatch,
    UnknownAgency,
    UnknownAssessmentType,
    UnknownContactType,
    UnknownNeedCode,
    UnknownDataCategory,
    DateInFuture,
    DateBefore1900,
    InvalidNhsNumber,
    InvalidNiNumber,
    UnknownReferral,
    NotReceivingAgency,
    NotReferringAgency,
    IllegalTransition,
    Conflict,
)
"""Every rejection this service gives, grouped as the checks run: schema, identity, content, state."""
