"""The referral aggregate and its state machine, and the assessment and contact records.

``decide(submission, known, stamp)`` turns a validated submission into events or raises a named rejection;
``evolve(known, event)`` folds an event into the state. State is built from events alone, so a test can start
from given events and a store can be rebuilt from the canonical topic.

Referral lifecycle (``status``)::

    received --accept--> accepted --close--> closed
    received --decline--> declined
    received | accepted --withdraw (referrer)--> withdrawn

While accepted, the assessments the receiving agency reports under the referral move its ``stage`` on:
accepted -> assessment-scheduled -> assessment-started -> assessment-completed (the furthest assessment that
is not cancelled). Nothing leaves closed, withdrawn or declined. Only the receiving agency accepts, declines,
closes or reports assessments under a referral; only the referring agency withdraws it.

Assessment records (keyed by agency + assessment_ref) move forward only: scheduled -> started -> completed,
and cancelled from scheduled or started; a first record may report any status. Contact records are reported
once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from joinedup.referral.domain.envelope import Envelope, RecordRef
from joinedup.referral.domain.errors import (
    Conflict,
    IllegalTransition,
    NotReceivingAgency,
    NotReferringAgency,
    UnknownReferral,
)
from joinedup.referral.domain.event_ids import assessment_event_id, contact_event_id, referral_event_id
from joinedup.referral.domain.events import (
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentEvent,
    AssessmentScheduled,
    AssessmentStarted,
    ContactRecorded,
    ReferralAccepted,
    ReferralClosed,
    ReferralDeclined,
    ReferralEvent,
    ReferralReceived,
    ReferralWithdrawn,
)
from joinedup.referral.domain.submissions import (
    AssessmentRecord,
    ContactRecord,
    ReferralLink,
    ReferralResponse,
    ReferralSubmission,
    ReferralWithdrawal,
    Submission,
)

# ---------------------------------------------------------------- keys


@dataclass(frozen=True, order=True)
class ReferralKey:
    """A referral is identified by the agency that made it and that agency's reference."""

    referring_agency: str
    referral_ref: str


@dataclass(frozen=True, order=True)
class RecordKey:
    """An assessment or contact record: the reporting agency and its own reference."""

    agency: str
    ref: str


# ---------------------------------------------------------------- state


class ReferralStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


OPEN = frozenset({ReferralStatus.RECEIVED, ReferralStatus.ACCEPTED})


class AssessmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


_PROGRESS = {
    AssessmentStatus.SCHEDULED: 1,
    AssessmentStatus.STARTED: 2,
    AssessmentStatus.COMPLETED: 3,
}
FINAL = frozenset({AssessmentStatus.COMPLETED, AssessmentStatus.CANCELLED})


class LinkedAssessment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    assessment_ref: str
    status: AssessmentStatus


class Referral(BaseModel):
    """The referral aggregate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    referring_agency: str
    referral_ref: str
    to_agency: str
    subject: RecordRef
    status: ReferralStatus
    assessments: tuple[LinkedAssessment, ...] = ()
    """Assessments the receiving agency reported under this referral, sorted by reference."""

    @property
    def key(self) -> ReferralKey:
        return ReferralKey(self.referring_agency, self.referral_ref)

    @property
    def stage(self) -> str:
        """The status, refined while accepted by the furthest assessment that is not cancelled."""
        if self.status is not ReferralStatus.ACCEPTED:
            return self.status.value
        progress = [
            _PROGRESS[a.status] for a in self.assessments if a.status is not AssessmentStatus.CANCELLED
        ]
        if not progress:
            return self.status.value
        furthest = next(s for s, p in _PROGRESS.items() if p == max(progress))
        return f"assessment-{furthest.value}"

    def with_assessment(self, assessment_ref: str, status: AssessmentStatus) -> Referral:
        others = [a for a in self.assessments if a.assessment_ref != assessment_ref]
        linked = (*others, LinkedAssessment(assessment_ref=assessment_ref, status=status))
        return self.model_copy(update={"assessments": tuple(sorted(linked, key=lambda a: a.assessment_ref))})


class Assessment(BaseModel):
    """An assessment record, standalone or under a referral."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str
    assessment_ref: str
    local_person_id: str
    assessment_type: str
    referral: ReferralLink | None
    status: AssessmentStatus

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.agency, self.assessment_ref)


class Contact(BaseModel):
    """A contact record (reported once)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str
    contact_ref: str
    local_person_id: str
    contact_type: str

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.agency, self.contact_ref)


@dataclass(frozen=True, order=True)
class IncomingKey:
    """A referral as its receiving agency knows it: made to ``to_agency`` under the referrer's reference."""

    to_agency: str
    referral_ref: str


@dataclass(frozen=True)
class Touched:
    """Which aggregates a submission or an event reads or changes."""

    referral: ReferralKey | None = None
    assessment: RecordKey | None = None
    contact: RecordKey | None = None
    sent_to: IncomingKey | None = None
    """For a withdrawal: a referral with that reference made *to* the submitting agency, if there is one (so a
    receiving agency that tries to withdraw hears why it may not)."""


@dataclass(frozen=True)
class Known:
    """The aggregates a decision needs, as loaded from the store (None: not seen)."""

    referral: Referral | None = None
    assessment: Assessment | None = None
    contact: Contact | None = None
    sent_to: Referral | None = None


@dataclass(frozen=True)
class Stamp:
    """What the envelope of each new event needs besides the submission: who submitted it (the topic's agency)
    and when joinedup learned it (the input's Kafka timestamp)."""

    agency: str
    recorded_at: datetime


def touched_by(submission: Submission, agency: str) -> Touched:
    match submission:
        case ReferralSubmission():
            return Touched(referral=ReferralKey(agency, submission.referral_ref))
        case ReferralResponse():
            return Touched(referral=ReferralKey(submission.referring_agency, submission.referral_ref))
        case ReferralWithdrawal():
            return Touched(
                referral=ReferralKey(agency, submission.referral_ref),
                sent_to=IncomingKey(agency, submission.referral_ref),
            )
        case AssessmentRecord():
            link = submission.referral
            return Touched(
                referral=ReferralKey(link.agency, link.referral_ref) if link else None,
                assessment=RecordKey(agency, submission.assessment_ref),
            )
        case ContactRecord():
            return Touched(contact=RecordKey(agency, submission.contact_ref))


def touched_by_event(event: ReferralEvent) -> Touched:
    match event:
        case (
            ReferralReceived()
            | ReferralAccepted()
            | ReferralDeclined()
            | ReferralClosed()
            | ReferralWithdrawn()
        ):
            return Touched(referral=ReferralKey(event.referring_agency, event.referral_ref))
        case AssessmentScheduled() | AssessmentStarted() | AssessmentCompleted() | AssessmentCancelled():
            link = event.referral
            return Touched(
                referral=ReferralKey(link.agency, link.referral_ref) if link else None,
                assessment=RecordKey(event.agency, event.assessment_ref),
            )
        case ContactRecorded():
            return Touched(contact=RecordKey(event.agency, event.contact_ref))


# ---------------------------------------------------------------- decide


def _envelope(
    submission: Submission,
    stamp: Stamp,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    subject: RecordRef,
) -> Envelope:
    return Envelope(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        recorded_at=stamp.recorded_at,
        source_agency=stamp.agency,
        correlation_id=submission.envelope.correlation_id,
        causation_id=submission.envelope.event_id,
        subject=subject,
    )


def decide(submission: Submission, known: Known, stamp: Stamp) -> tuple[ReferralEvent, ...]:
    """The events a (validated) submission causes, or a named rejection."""
    match submission:
        case ReferralSubmission():
            return (_receive(submission, known, stamp),)
        case ReferralResponse():
            return (_respond(submission, known, stamp),)
        case ReferralWithdrawal():
            return (_withdraw(submission, known, stamp),)
        case AssessmentRecord():
            return (_assess(submission, known, stamp),)
        case ContactRecord():
            return (_record_contact(submission, known, stamp),)


def _receive(submission: ReferralSubmission, known: Known, stamp: Stamp) -> ReferralReceived:
    if known.referral is not None:
        raise Conflict("referral_ref", f"referral {submission.referral_ref!r} was already received")
    event_id = referral_event_id(stamp.agency, submission.referral_ref, "ReferralReceived")
    subject = RecordRef(agency=stamp.agency, local_person_id=submission.subject.local_person_id)
    return ReferralReceived(
        envelope=_envelope(submission, stamp, event_id, "ReferralReceived", submission.referred_at, subject),
        referral_ref=submission.referral_ref,
        referring_agency=stamp.agency,
        to_agency=submission.to_agency,
        to_service=submission.to_service,
        subject=submission.subject,
        need_codes=submission.need_codes,
        requested_assessment_type=submission.requested_assessment_type,
        urgency=submission.urgency,
        referred_at=submission.referred_at,
        data_categories=submission.data_categories,
        summary=submission.summary,
    )


def require_referral(referral: Referral | None, ref: str, field: str) -> Referral:
    if referral is None:
        raise UnknownReferral(field, f"no referral {ref!r} from that agency has been received")
    return referral


def require_receiving_agency(referral: Referral, agency: str, field: str) -> None:
    if referral.to_agency != agency:
        raise NotReceivingAgency(
            field,
            f"referral {referral.referral_ref!r} was not made to {agency!r}; only its receiving agency acts",
        )


def require_status(
    referral: Referral, allowed: frozenset[ReferralStatus], done: ReferralStatus, step: str
) -> None:
    """The referral must be in one of the allowed statuses; a step already taken is a conflict."""
    if referral.status is done:
        raise Conflict("referral_ref", f"referral {referral.referral_ref!r} is already {done.value}")
    if referral.status not in allowed:
        raise IllegalTransition(
            "referral_ref", f"cannot {step} referral {referral.referral_ref!r}: it is {referral.status.value}"
        )


def _respond(
    submission: ReferralResponse, known: Known, stamp: Stamp
) -> ReferralAccepted | ReferralDeclined | ReferralClosed:
    referral = require_referral(known.referral, submission.referral_ref, "referral_ref")
    require_receiving_agency(referral, stamp.agency, "referral_ref")
    ref, referring, receiving = referral.referral_ref, referral.referring_agency, referral.to_agency

    def envelope(event_type: str) -> Envelope:
        event_id = referral_event_id(referral.referring_agency, referral.referral_ref, event_type)
        return _envelope(submission, stamp, event_id, event_type, submission.responded_at, referral.subject)

    match submission.action:
        case "accept":
            require_status(referral, frozenset({ReferralStatus.RECEIVED}), ReferralStatus.ACCEPTED, "accept")
            return ReferralAccepted(
                envelope=envelope("ReferralAccepted"),
                referral_ref=ref,
                referring_agency=referring,
                receiving_agency=receiving,
                reason=submission.reason,
                accepted_at=submission.responded_at,
            )
        case "decline":
            require_status(referral, frozenset({ReferralStatus.RECEIVED}), ReferralStatus.DECLINED, "decline")
            return ReferralDeclined(
                envelope=envelope("ReferralDeclined"),
                referral_ref=ref,
                referring_agency=referring,
                receiving_agency=receiving,
                reason=submission.reason or "",
                declined_at=submission.responded_at,
            )
        case "close":
            require_status(referral, frozenset({ReferralStatus.ACCEPTED}), ReferralStatus.CLOSED, "close")
            return ReferralClosed(
                envelope=envelope("ReferralClosed"),
                referral_ref=ref,
                referring_agency=referring,
                receiving_agency=receiving,
                reason=submission.reason,
                closed_at=submission.responded_at,
            )


def _withdraw(submission: ReferralWithdrawal, known: Known, stamp: Stamp) -> ReferralWithdrawn:
    if known.referral is None and known.sent_to is not None:
        raise NotReferringAgency(
            "referral_ref",
            f"referral {submission.referral_ref!r} was made to {stamp.agency!r}, which may decline or close "
            "it but not withdraw it",
        )
    referral = require_referral(known.referral, submission.referral_ref, "referral_ref")
    require_status(referral, OPEN, ReferralStatus.WITHDRAWN, "withdraw")
    event_id = referral_event_id(referral.referring_agency, referral.referral_ref, "ReferralWithdrawn")
    return ReferralWithdrawn(
        envelope=_envelope(
            submission, stamp, event_id, "ReferralWithdrawn", submission.withdrawn_at, referral.subject
        ),
        referral_ref=referral.referral_ref,
        referring_agency=referral.referring_agency,
        receiving_agency=referral.to_agency,
        reason=submission.reason,
        withdrawn_at=submission.withdrawn_at,
    )


_ASSESSMENT_EVENTS: dict[AssessmentStatus, type[AssessmentEvent]] = {
    AssessmentStatus.SCHEDULED: AssessmentScheduled,
    AssessmentStatus.STARTED: AssessmentStarted,
    AssessmentStatus.COMPLETED: AssessmentCompleted,
    AssessmentStatus.CANCELLED: AssessmentCancelled,
}
_STATUS_OF_EVENT = {cls: status for status, cls in _ASSESSMENT_EVENTS.items()}


def assessment_may_move(current: AssessmentStatus, new: AssessmentStatus) -> bool:
    """Forward only: nothing after completed or cancelled; cancelled from anything else."""
    if current in FINAL:
        return False
    if new is AssessmentStatus.CANCELLED:
        return True
    return _PROGRESS[new] > _PROGRESS[current]


def check_assessment_step(assessment: Assessment, submission: AssessmentRecord) -> None:
    """A later record keeps the first record's subject, type and referral, and moves the status forward."""
    ref = assessment.assessment_ref
    if assessment.local_person_id != submission.subject.local_person_id:
        raise Conflict("subject.local_person_id", f"assessment {ref!r} was reported for another subject")
    if assessment.assessment_type != submission.assessment_type:
        raise Conflict("assessment_type", f"assessment {ref!r} was reported with another assessment type")
    if assessment.referral != submission.referral:
        raise Conflict("referral", f"assessment {ref!r} was reported under another referral")
    new = AssessmentStatus(submission.status)
    if assessment.status is new:
        raise Conflict("status", f"assessment {ref!r} is already {new.value}")
    if not assessment_may_move(assessment.status, new):
        raise IllegalTransition(
            "status", f"assessment {ref!r} cannot go from {assessment.status.value} to {new.value}"
        )


def check_referral_takes_assessment(referral: Referral, agency: str) -> None:
    """Assessments are reported under a referral by its receiving agency, while it is accepted."""
    require_receiving_agency(referral, agency, "referral")
    if referral.status is not ReferralStatus.ACCEPTED:
        raise IllegalTransition(
            "referral",
            f"referral {referral.referral_ref!r} is {referral.status.value}; "
            "assessments need an accepted referral",
        )


def _assess(submission: AssessmentRecord, known: Known, stamp: Stamp) -> AssessmentEvent:
    if known.assessment is not None:
        check_assessment_step(known.assessment, submission)
    if submission.referral is not None:
        referral = require_referral(known.referral, submission.referral.referral_ref, "referral.referral_ref")
        check_referral_takes_assessment(referral, stamp.agency)
    cls = _ASSESSMENT_EVENTS[AssessmentStatus(submission.status)]
    event_type = cls.__name__
    event_id = assessment_event_id(stamp.agency, submission.assessment_ref, event_type)
    subject = RecordRef(agency=stamp.agency, local_person_id=submission.subject.local_person_id)
    return cls(
        envelope=_envelope(submission, stamp, event_id, event_type, submission.occurred_at, subject),
        assessment_ref=submission.assessment_ref,
        agency=stamp.agency,
        subject=submission.subject,
        assessment_type=submission.assessment_type,
        occurred_at=submission.occurred_at,
        referral=submission.referral,
        data_categories=submission.data_categories,
    )


def _record_contact(submission: ContactRecord, known: Known, stamp: Stamp) -> ContactRecorded:
    if known.contact is not None:
        raise Conflict("contact_ref", f"contact {submission.contact_ref!r} was already recorded")
    event_id = contact_event_id(stamp.agency, submission.contact_ref)
    subject = RecordRef(agency=stamp.agency, local_person_id=submission.subject.local_person_id)
    return ContactRecorded(
        envelope=_envelope(submission, stamp, event_id, "ContactRecorded", submission.occurred_at, subject),
        contact_ref=submission.contact_ref,
        agency=stamp.agency,
        subject=submission.subject,
        contact_type=submission.contact_type,
        occurred_at=submission.occurred_at,
        summary=submission.summary,
        related_refs=submission.related_refs,
        data_categories=submission.data_categories,
    )


# ---------------------------------------------------------------- evolve


_STATUS_AFTER: dict[type[ReferralEvent], ReferralStatus] = {
    ReferralAccepted: ReferralStatus.ACCEPTED,
    ReferralDeclined: ReferralStatus.DECLINED,
    ReferralClosed: ReferralStatus.CLOSED,
    ReferralWithdrawn: ReferralStatus.WITHDRAWN,
}


def evolve(known: Known, event: ReferralEvent) -> Known:
    """The state after the event. Events are facts: evolve never refuses one."""
    match event:
        case ReferralReceived():
            received = Referral(
                referring_agency=event.referring_agency,
                referral_ref=event.referral_ref,
                to_agency=event.to_agency,
                subject=RecordRef(
                    agency=event.referring_agency, local_person_id=event.subject.local_person_id
                ),
                status=ReferralStatus.RECEIVED,
            )
            return replace(known, referral=received)
        case ReferralAccepted() | ReferralDeclined() | ReferralClosed() | ReferralWithdrawn():
            if known.referral is None:
                return known
            status = _STATUS_AFTER[type(event)]
            return replace(known, referral=known.referral.model_copy(update={"status": status}))
        case AssessmentScheduled() | AssessmentStarted() | AssessmentCompleted() | AssessmentCancelled():
            progress = _STATUS_OF_EVENT[type(event)]
            assessment = Assessment(
                agency=event.agency,
                assessment_ref=event.assessment_ref,
                local_person_id=event.subject.local_person_id,
                assessment_type=event.assessment_type,
                referral=event.referral,
                status=progress,
            )
            linked = known.referral
            if event.referral is not None and linked is not None:
                linked = linked.with_assessment(event.assessment_ref, progress)
            return replace(known, assessment=assessment, referral=linked)
        case ContactRecorded():
            contact = Contact(
                agency=event.agency,
                contact_ref=event.contact_ref,
                local_person_id=event.subject.local_person_id,
                contact_type=event.contact_type,
            )
            return replace(known, contact=contact)
