"""Given / when / then for the referral service, and sample submissions with sensible defaults.

    Scenario(MemoryReferralStore())
        .given(*events)                          # canonical events already recorded
        .when("council-housing", a_response("accept"))
        .then(ReferralAccepted)                  # or .then_rejected("illegal-transition")

The samples are synthetic (no real person); each builder takes field overrides. Used by the unit tests here
and by the broker tests, which publish the same submissions through Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

from joinedup.contract.topics import intake_topic
from joinedup.referral.app.handlers import Outcome, apply, handle
from joinedup.referral.app.ports import Coordinates, ReferralState
from joinedup.referral.app.reference import default_reference_data
from joinedup.referral.domain.event_ids import derived_id
from joinedup.referral.domain.events import ReferralEvent
from joinedup.referral.domain.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.referral.domain.reference import ReferenceData
from joinedup.referral.domain.rules import FUTURE_TOLERANCE
from joinedup.referral.domain.submissions import (
    AssessmentRecord,
    ContactRecord,
    ReferralResponse,
    ReferralSubmission,
    ReferralWithdrawal,
    Submission,
)

REFERRER = "probation"
RECEIVER = "council-housing"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
"""The default Kafka timestamp of every input in a scenario."""
EARLIER = NOW - timedelta(hours=1)
VALID_NHS_NUMBER = "9434765919"
VALID_NI_NUMBER = "AB123456C"

History = Callable[..., tuple[ReferralEvent, ...]]
"""Runs (agency, submission) steps from empty state and returns the canonical events they record."""


# ---------------------------------------------------------------- samples


def an_envelope(
    agency: str,
    event_type: str,
    ref: str,
    *,
    step: str = "",
    occurred_at: datetime = EARLIER,
    **overrides: Any,
) -> dict[str, Any]:
    """An envelope as an agency would fill it (its event_id derived from the sample's coordinates)."""
    envelope: dict[str, Any] = {
        "event_id": derived_id("sample", agency, event_type, ref, step),
        "event_type": event_type,
        "occurred_at": occurred_at,
        "recorded_at": occurred_at,
        "source_agency": agency,
        "correlation_id": f"{agency}/{ref}",
        "causation_id": None,
        "subject": None,
        "schema_fingerprint": "0" * 16,
    }
    envelope.update(overrides)
    return envelope


def a_person(local_person_id: str = "P-1", **overrides: Any) -> dict[str, Any]:
    person: dict[str, Any] = {
        "local_person_id": local_person_id,
        "nhs_number": VALID_NHS_NUMBER,
        "ni_number": VALID_NI_NUMBER,
        "given_names": "Sample",
        "family_name": "Person",
        "date_of_birth": date(1990, 1, 1),
        "sex": "unknown",
        "address_lines": ["1 Example Street", "Salford"],
        "postcode": "M5 4WT",
        "phone": None,
        "email": None,
        "other_identifiers": [],
    }
    person.update(overrides)
    return person


def a_referral(
    ref: str = "R-1", *, by: str = REFERRER, at: datetime = EARLIER, **overrides: Any
) -> ReferralSubmission:
    fields: dict[str, Any] = {
        "envelope": an_envelope(by, "ReferralSubmission", ref, occurred_at=at),
        "referral_ref": ref,
        "subject": a_person(),
        "to_agency": RECEIVER,
        "to_service": None,
        "need_codes": ["accommodation"],
        "requested_assessment_type": "hra-s189a",
        "urgency": "urgent",
        "referred_at": at,
        "data_categories": ["housing", "criminal-justice"],
        "summary": "Released next week with no fixed abode.",
    }
    fields.update(overrides)
    return ReferralSubmission.model_validate(fields)


def a_response(
    action: str,
    ref: str = "R-1",
    *,
    by: str = RECEIVER,
    referrer: str = REFERRER,
    at: datetime = EARLIER,
    **overrides: Any,
) -> ReferralResponse:
    fields: dict[str, Any] = {
        "envelope": an_envelope(by, "ReferralResponse", ref, step=action, occurred_at=at),
        "referral_ref": ref,
        "referring_agency": referrer,
        "action": action,
        "reason": "No capacity this month." if action == "decline" else None,
        "responded_at": at,
    }
    fields.update(overrides)
    return ReferralResponse.model_validate(fields)


def a_withdrawal(
    ref: str = "R-1", *, by: str = REFERRER, at: datetime = EARLIER, **overrides: Any
) -> ReferralWithdrawal:
    fields: dict[str, Any] = {
        "envelope": an_envelope(by, "ReferralWithdrawal", ref, occurred_at=at),
        "referral_ref": ref,
        "reason": "Housed by a relative.",
        "withdrawn_at": at,
    }
    fields.update(overrides)
    return ReferralWithdrawal.model_validate(fields)


def an_assessment(
    status: str,
    ref: str = "A-1",
    *,
    by: str = RECEIVER,
    under: tuple[str, str] | None = (REFERRER, "R-1"),
    at: datetime = EARLIER,
    **overrides: Any,
) -> AssessmentRecord:
    """An assessment record, by default under referral R-1 from the referrer (``under=None``: standalone)."""
    fields: dict[str, Any] = {
        "envelope": an_envelope(by, "AssessmentRecord", ref, step=status, occurred_at=at),
        "assessment_ref": ref,
        "subject": a_person("H-77"),
        "assessment_type": "hra-s189a",
        "status": status,
        "occurred_at": at,
        "referral": {"agency": under[0], "referral_ref": under[1]} if under else None,
        "data_categories": ["housing"],
    }
    fields.update(overrides)
    return AssessmentRecord.model_validate(fields)


def a_contact(
    ref: str = "C-1", *, by: str = "police", at: datetime = EARLIER, **overrides: Any
) -> ContactRecord:
    fields: dict[str, Any] = {
        "envelope": an_envelope(by, "ContactRecord", ref, occurred_at=at),
        "contact_ref": ref,
        "subject": a_person("PN-5"),
        "contact_type": "police-callout",
        "occurred_at": at,
        "summary": "Welfare check.",
        "related_refs": [],
        "data_categories": ["criminal-justice"],
    }
    fields.update(overrides)
    return ContactRecord.model_validate(fields)


# ---------------------------------------------------------------- scenario


class Scenario:
    """Given canonical events, when an agency submits, then these events (or this rejection)."""

    def __init__(
        self,
        state: ReferralState,
        *,
        reference: ReferenceData | None = None,
        now: datetime = NOW,
        tolerance: timedelta = FUTURE_TOLERANCE,
    ) -> None:
        self.state = state
        self.reference = reference or default_reference_data()
        self.now = now
        self.tolerance = tolerance
        self.outcomes: list[Outcome] = []
        self._offsets: dict[str, int] = {}

    def given(self, *events: ReferralEvent) -> Self:
        apply(self.state, events)
        return self

    def when(self, agency: str, submission: Submission, *, at: datetime | None = None) -> Self:
        """``agency`` publishes ``submission`` on its intake topic; the Kafka timestamp is ``at`` (or now)."""
        topic = intake_topic(agency)
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        coordinates = Coordinates(topic=topic, partition=0, offset=offset, timestamp=at or self.now)
        outcome = handle(submission, agency, coordinates, self.state, self.reference, self.tolerance)
        self.outcomes.append(outcome)
        return self

    def when_all(self, steps: Sequence[tuple[str, Submission]]) -> Self:
        for agency, submission in steps:
            self.when(agency, submission)
        return self

    @property
    def outcome(self) -> Outcome:
        """The outcome of the last ``when``."""
        assert self.outcomes, "nothing was submitted"
        return self.outcomes[-1]

    @property
    def events(self) -> tuple[ReferralEvent, ...]:
        """Every canonical event emitted so far, in order."""
        return tuple(e for o in self.outcomes for e in o.events)

    def then(self, *event_types: type[ReferralEvent]) -> tuple[ReferralEvent, ...]:
        """The last submission was accepted and emitted exactly these event types; returns the events."""
        outcome = self.outcome
        rejection = outcome.rejection
        assert rejection is None, (
            f"rejected: {rejection.reason_code} ({rejection.field}): {rejection.message}"
        )
        assert not outcome.duplicate, "the submission was taken as a duplicate"
        assert [type(e) for e in outcome.events] == list(event_types)
        accepted = outcome.receipt
        assert isinstance(accepted, SubmissionAccepted)
        assert accepted.event_ids == tuple(e.envelope.event_id for e in outcome.events)
        return outcome.events

    def then_rejected(self, reason_code: str, field: str | None = None) -> SubmissionRejected:
        """The last submission was rejected with this reason (and field, if given) and emitted nothing."""
        outcome = self.outcome
        rejection = outcome.rejection
        assert rejection is not None, f"accepted: {[type(e).__name__ for e in outcome.events]}"
        assert (rejection.reason_code, outcome.events) == (reason_code, ()), rejection.message
        if field is not None:
            assert rejection.field == field, rejection.field
        return rejection

    def then_duplicate(self) -> SubmissionAccepted:
        """The last submission repeated an accepted one: no events, and the first receipt again."""
        outcome = self.outcome
        assert outcome.duplicate, "the submission was not taken as a duplicate"
        assert outcome.events == ()
        assert isinstance(outcome.receipt, SubmissionAccepted)
        return outcome.receipt
