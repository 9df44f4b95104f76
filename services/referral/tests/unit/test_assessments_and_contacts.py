"""Standalone assessment and contact records: their own keys, their own status rules."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.referral.app.testing import NOW, RECEIVER, Scenario, a_contact, a_person, an_assessment
from joinedup.referral.domain.event_ids import assessment_event_id, contact_event_id
from joinedup.referral.domain.events import (
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentScheduled,
    AssessmentStarted,
    ContactRecorded,
    ReferralEvent,
)
from joinedup.referral.domain.model import AssessmentStatus, RecordKey
from joinedup.referral.domain.submissions import AssessmentRecord

AGENCY = "nhs-mh-trust"
EVENT_OF: dict[str, type[ReferralEvent]] = {
    "scheduled": AssessmentScheduled,
    "started": AssessmentStarted,
    "completed": AssessmentCompleted,
    "cancelled": AssessmentCancelled,
}


def standalone(status: str, **overrides: Any) -> AssessmentRecord:
    fields: dict[str, Any] = {"assessment_type": "cmht-assessment", **overrides}
    return an_assessment(status, by=AGENCY, under=None, **fields)


def test_a_standalone_assessment_moves_forward_through_its_statuses(scenario: Scenario) -> None:
    for status in ("scheduled", "started", "completed"):
        (event,) = scenario.when(AGENCY, standalone(status)).then(EVENT_OF[status])
        assert event.envelope.event_id == assessment_event_id(AGENCY, "A-1", EVENT_OF[status].__name__)
    assessment = scenario.state.assessment(RecordKey(AGENCY, "A-1"))
    assert assessment is not None
    assert assessment.status is AssessmentStatus.COMPLETED


def test_a_first_assessment_record_may_report_any_status(scenario: Scenario) -> None:
    scenario.when(AGENCY, standalone("completed")).then(AssessmentCompleted)


@pytest.mark.parametrize(
    ("done", "then"),
    [
        ("completed", "started"),
        ("completed", "cancelled"),
        ("cancelled", "started"),
        ("cancelled", "completed"),
        ("started", "scheduled"),
    ],
)
def test_an_assessment_never_goes_back(scenario: Scenario, done: str, then: str) -> None:
    scenario.when(AGENCY, standalone(done))
    scenario.when(AGENCY, standalone(then)).then_rejected("illegal-transition", "status")


@pytest.mark.parametrize("status", ["scheduled", "started"])
def test_an_assessment_in_progress_can_be_cancelled(scenario: Scenario, status: str) -> None:
    scenario.when(AGENCY, standalone(status)).when(AGENCY, standalone("cancelled")).then(AssessmentCancelled)


def test_a_later_assessment_record_may_not_change_its_type(scenario: Scenario) -> None:
    scenario.when(AGENCY, standalone("scheduled"))
    scenario.when(AGENCY, standalone("started", assessment_type="cpa-review")).then_rejected(
        "conflict", "assessment_type"
    )


def test_a_later_assessment_record_may_not_change_its_subject(scenario: Scenario) -> None:
    scenario.when(AGENCY, standalone("scheduled"))
    scenario.when(AGENCY, standalone("started", subject=a_person("H-99"))).then_rejected(
        "conflict", "subject.local_person_id"
    )


def test_a_later_assessment_record_may_not_move_it_under_a_referral(scenario: Scenario) -> None:
    scenario.when(AGENCY, standalone("scheduled"))
    moved = an_assessment("started", by=AGENCY, under=("probation", "R-1"), assessment_type="cmht-assessment")
    scenario.when(AGENCY, moved).then_rejected("conflict", "referral")


def test_a_standalone_assessment_needs_no_referral(scenario: Scenario) -> None:
    (event,) = scenario.when(RECEIVER, an_assessment("scheduled", under=None)).then(AssessmentScheduled)
    assert isinstance(event, AssessmentScheduled)
    assert event.referral is None


def test_a_contact_is_recorded_once_with_a_deterministic_id(scenario: Scenario) -> None:
    (event,) = scenario.when("police", a_contact()).then(ContactRecorded)
    assert isinstance(event, ContactRecorded)
    assert event.envelope.event_id == contact_event_id("police", "C-1")
    assert event.envelope.recorded_at == NOW
    assert event.agency == "police"
    scenario.when("police", a_contact()).then_duplicate()


def test_the_same_contact_ref_from_two_agencies_is_two_contacts(scenario: Scenario) -> None:
    events: list[ReferralEvent] = []
    for agency in ("police", "nhs-acute-trust"):
        envelope = a_contact(by=agency).envelope
        events += scenario.when(agency, a_contact(by=agency, envelope=envelope)).then(ContactRecorded)
    assert len({e.envelope.event_id for e in events}) == 2
