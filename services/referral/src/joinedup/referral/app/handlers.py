"""The intake handler: load -> check -> decide -> stage, and the receipt that answers the agency.

``handle`` is pure apart from the state it is given: no clock (times come from the submission and the input's
Kafka timestamp), no randomness (ids are UUIDv5 of source coordinates). The caller (the Kafka worker) produces
``Outcome.events`` to ``joinedup.referral.events`` keyed by ``event_key``, ``Outcome.receipt`` to
``joinedup.receipts.<agency>`` keyed by ``receipt_key``, and commits the staged state with the offsets.

Order of checks: the record's shape; the agency's identity (forged-agency); a duplicate (same key, same
content) returns the stored receipt and changes nothing; the stateless rules; a conflict (same key, other
content); then the state machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from joinedup.referral.app.intake import parse_submission, salvage_envelope, salvage_ref, submission_model
from joinedup.referral.app.ports import Coordinates, Processed, ReferralState
from joinedup.referral.domain.envelope import Envelope
from joinedup.referral.domain.errors import Conflict, Rejection
from joinedup.referral.domain.event_ids import accepted_receipt_id, rejected_receipt_id
from joinedup.referral.domain.events import ReferralEvent
from joinedup.referral.domain.model import Known, Stamp, Touched, decide, evolve, touched_by, touched_by_event
from joinedup.referral.domain.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.referral.domain.reference import ReferenceData
from joinedup.referral.domain.rules import FUTURE_TOLERANCE, check_identity, validate
from joinedup.referral.domain.submissions import (
    AssessmentRecord,
    ContactRecord,
    Submission,
    content_hash,
    submission_key,
    submission_ref,
)

INTAKE_NAMESPACE = "joinedup.intake"


class Outcome(BaseModel):
    """What one submission produced: canonical events (none if rejected or a duplicate) and one receipt."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: tuple[ReferralEvent, ...] = ()
    receipt: SubmissionAccepted | SubmissionRejected
    duplicate: bool = False
    """True when the same content was accepted before under the same key: the receipt is the stored one."""

    @property
    def rejection(self) -> SubmissionRejected | None:
        return self.receipt if isinstance(self.receipt, SubmissionRejected) else None

    @property
    def accepted(self) -> bool:
        return isinstance(self.receipt, SubmissionAccepted)


def event_key(event: ReferralEvent) -> str:
    """The Kafka key of a canonical event: its subject record, ``<agency>/<local_person_id>``."""
    subject = event.envelope.subject
    return subject.key() if subject is not None else event.envelope.source_agency


def receipt_key(receipt: SubmissionAccepted | SubmissionRejected) -> str:
    """The Kafka key of a receipt: the submission's agency reference."""
    return receipt.submission_ref or ""


# ---------------------------------------------------------------- state


def load(state: ReferralState, touched: Touched) -> Known:
    return Known(
        referral=state.referral(touched.referral) if touched.referral else None,
        assessment=state.assessment(touched.assessment) if touched.assessment else None,
        contact=state.contact(touched.contact) if touched.contact else None,
        sent_to=state.referral_sent_to(touched.sent_to) if touched.sent_to else None,
    )


def stage(state: ReferralState, before: Known, after: Known) -> None:
    """Stage the aggregates an event changed."""
    if after.referral is not None and after.referral != before.referral:
        state.put_referral(after.referral)
    if after.assessment is not None and after.assessment != before.assessment:
        state.put_assessment(after.assessment)
    if after.contact is not None and after.contact != before.contact:
        state.put_contact(after.contact)


def apply(state: ReferralState, events: Iterable[ReferralEvent]) -> None:
    """Fold canonical events into the state (given events in tests; a rebuild from the canonical topic)."""
    for event in events:
        before = load(state, touched_by_event(event))
        stage(state, before, evolve(before, event))


# ---------------------------------------------------------------- receipts


def accepted_receipt(
    submission: Submission, key: str, agency: str, coordinates: Coordinates, events: tuple[ReferralEvent, ...]
) -> SubmissionAccepted:
    return SubmissionAccepted(
        envelope=Envelope(
            event_id=accepted_receipt_id(key),
            event_type="SubmissionAccepted",
            occurred_at=coordinates.timestamp,
            recorded_at=coordinates.timestamp,
            source_agency=agency,
            correlation_id=submission.envelope.correlation_id,
            causation_id=submission.envelope.event_id,
            subject=submission.envelope.subject,
        ),
        submission_type=submission_type_name(type(submission)),
        submission_ref=submission_ref(submission),
        event_ids=tuple(e.envelope.event_id for e in events),
    )


def submission_type_name(model: type) -> str:
    """A submission's Avro full name, as receipts carry it (domain submissions share the records' names)."""
    return f"{INTAKE_NAMESPACE}.{model.__name__}"


def rejected_receipt(
    rejection: Rejection,
    submission_type: str,
    ref: str | None,
    envelope: Envelope | None,
    agency: str,
    coordinates: Coordinates,
) -> SubmissionRejected:
    receipt_id = rejected_receipt_id(coordinates.topic, coordinates.partition, coordinates.offset)
    return SubmissionRejected(
        envelope=Envelope(
            event_id=receipt_id,
            event_type="SubmissionRejected",
            occurred_at=coordinates.timestamp,
            recorded_at=coordinates.timestamp,
            source_agency=agency,
            correlation_id=envelope.correlation_id if envelope else receipt_id,
            causation_id=envelope.event_id if envelope else None,
            subject=None,
        ),
        submission_type=submission_type,
        submission_ref=ref,
        reason_code=rejection.reason_code,
        field=rejection.field,
        message=rejection.message,
    )


def _ref_field(submission: Submission) -> str:
    if isinstance(submission, AssessmentRecord):
        return "assessment_ref"
    if isinstance(submission, ContactRecord):
        return "contact_ref"
    return "referral_ref"


# ---------------------------------------------------------------- handle


def handle(
    submission: Submission,
    topic_agency: str,
    coordinates: Coordinates,
    state: ReferralState,
    reference: ReferenceData,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> Outcome:
    """Decide one submission read from ``topic_agency``'s intake topic at ``coordinates``; stage effects."""
    key = submission_key(submission, topic_agency)
    digest = content_hash(submission)
    try:
        check_identity(submission, topic_agency)
        seen = state.processed(key)
        if seen is not None and seen.content_hash == digest:
            return Outcome(receipt=seen.receipt, duplicate=True)
        validate(submission, topic_agency, reference, coordinates.timestamp, future_tolerance)
        if seen is not None:
            field = _ref_field(submission)
            raise Conflict(
                field, f"{field} {submission_ref(submission)!r} was accepted before with other content"
            )
        touched = touched_by(submission, topic_agency)
        before = load(state, touched)
        events = decide(submission, before, Stamp(topic_agency, coordinates.timestamp))
    except Rejection as rejection:
        rejected = rejected_receipt(
            rejection,
            submission_type_name(type(submission)),
            submission_ref(submission),
            submission.envelope,
            topic_agency,
            coordinates,
        )
        return Outcome(receipt=rejected)
    after = before
    for event in events:
        after = evolve(after, event)
    stage(state, before, after)
    receipt = accepted_receipt(submission, key, topic_agency, coordinates, events)
    state.put_processed(Processed(key=key, content_hash=digest, receipt=receipt))
    return Outcome(events=events, receipt=receipt)


def handle_record(
    record_name: str,
    record: Mapping[str, Any] | object,
    topic_agency: str,
    coordinates: Coordinates,
    state: ReferralState,
    reference: ReferenceData,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> Outcome | None:
    """``handle`` for a decoded intake record (a dict or a contract model). None if the record is not one this
    service owns (a ConsentStatement); a rejection receipt if it does not fit the submission model."""
    model = submission_model(record_name)
    if model is None:
        return None
    try:
        submission = parse_submission(model, record)
    except Rejection as rejection:
        receipt = rejected_receipt(
            rejection,
            submission_type_name(model),
            salvage_ref(record),
            salvage_envelope(record),
            topic_agency,
            coordinates,
        )
        return Outcome(receipt=receipt)
    return handle(submission, topic_agency, coordinates, state, reference, future_tolerance)
