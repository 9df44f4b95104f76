"""Record keys for intake topics.

Every submission about one referral — the referrer's submission and withdrawal, the receiver's response, and
assessments made under it — is keyed by the referral (``<referring agency>/<referral ref>``). All intake
topics have the same partition count, so with the default partitioner these submissions land in the same
partition *number* of every intake topic, and one worker (range assignment) sees the whole referral.
Anything else is keyed by its submitting agency and its own reference.
"""

from __future__ import annotations

from joinedup.contract.models.intake import (
    AssessmentRecord,
    ConsentStatement,
    ContactRecord,
    ReferralResponse,
    ReferralSubmission,
    ReferralWithdrawal,
)

IntakeRecord = (
    ReferralSubmission
    | ReferralResponse
    | ReferralWithdrawal
    | AssessmentRecord
    | ContactRecord
    | ConsentStatement
)


def referral_key(referring_agency: str, referral_ref: str) -> str:
    return f"{referring_agency}/{referral_ref}"


def intake_key(record: IntakeRecord, agency: str) -> str:
    """The Kafka key for a submission that ``agency`` publishes on its own intake topic."""
    if isinstance(record, ReferralSubmission | ReferralWithdrawal):
        return referral_key(agency, record.referral_ref)
    if isinstance(record, ReferralResponse):
        return referral_key(record.referring_agency, record.referral_ref)
    if isinstance(record, AssessmentRecord):
        if record.referral is not None:
            return referral_key(record.referral.agency, record.referral.referral_ref)
        return f"{agency}/{record.assessment_ref}"
    if isinstance(record, ContactRecord):
        return f"{agency}/{record.contact_ref}"
    return f"{agency}/{record.statement_ref}"
