"""The referral state machine, given events / when a submission / then events."""

from __future__ import annotations

from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.testing import (
    EARLIER,
    NOW,
    RECEIVER,
    REFERRER,
    History,
    Scenario,
    a_referral,
    a_response,
    a_withdrawal,
    an_assessment,
)
from joinedup.referral.domain.envelope import RecordRef
from joinedup.referral.domain.event_ids import referral_event_id
from joinedup.referral.domain.events import (
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentScheduled,
    AssessmentStarted,
    ReferralAccepted,
    ReferralClosed,
    ReferralDeclined,
    ReferralEvent,
    ReferralReceived,
    ReferralWithdrawn,
)
from joinedup.referral.domain.model import ReferralKey
from joinedup.referral.domain.submissions import Submission

KEY = ReferralKey(REFERRER, "R-1")


def stage_of(scenario: Scenario) -> str:
    referral = scenario.state.referral(KEY)
    assert referral is not None
    return referral.stage


def test_a_referral_runs_its_full_lifecycle_from_received_to_closed(scenario: Scenario) -> None:
    steps: list[tuple[str, Submission, type[ReferralEvent], str]] = [
        (REFERRER, a_referral(), ReferralReceived, "received"),
        (RECEIVER, a_response("accept"), ReferralAccepted, "accepted"),
        (RECEIVER, an_assessment("scheduled"), AssessmentScheduled, "assessment-scheduled"),
        (RECEIVER, an_assessment("started"), AssessmentStarted, "assessment-started"),
        (RECEIVER, an_assessment("completed"), AssessmentCompleted, "assessment-completed"),
        (RECEIVER, a_response("close"), ReferralClosed, "closed"),
    ]
    for agency, submission, event_type, stage in steps:
        scenario.when(agency, submission).then(event_type)
        assert stage_of(scenario) == stage
    ids = [e.envelope.event_id for e in scenario.events]
    assert len(set(ids)) == len(ids) == 6


def test_a_received_referral_names_both_agencies_and_the_referrers_record(scenario: Scenario) -> None:
    (received,) = scenario.when(REFERRER, a_referral()).then(ReferralReceived)
    assert isinstance(received, ReferralReceived)
    assert (received.referring_agency, received.to_agency) == (REFERRER, RECEIVER)
    assert received.envelope.subject == RecordRef(agency=REFERRER, local_person_id="P-1")
    assert received.envelope.source_agency == REFERRER
    assert received.envelope.event_id == referral_event_id(REFERRER, "R-1", "ReferralReceived")


def test_event_times_come_from_the_submission_and_the_kafka_timestamp(scenario: Scenario) -> None:
    submission = a_referral()
    (received,) = scenario.when(REFERRER, submission).then(ReferralReceived)
    assert received.envelope.occurred_at == EARLIER
    assert received.envelope.recorded_at == NOW
    assert received.envelope.causation_id == submission.envelope.event_id
    assert received.envelope.correlation_id == submission.envelope.correlation_id


def test_a_response_is_about_the_referrers_subject_record(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral())))
    (accepted,) = scenario.when(RECEIVER, a_response("accept")).then(ReferralAccepted)
    assert accepted.envelope.subject == RecordRef(agency=REFERRER, local_person_id="P-1")
    assert accepted.envelope.source_agency == RECEIVER


def test_a_received_referral_can_be_declined(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral())))
    (declined,) = scenario.when(RECEIVER, a_response("decline")).then(ReferralDeclined)
    assert isinstance(declined, ReferralDeclined)
    assert declined.reason == "No capacity this month."
    assert stage_of(scenario) == "declined"


def test_an_open_referral_can_be_withdrawn_by_its_referrer(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral()), (RECEIVER, a_response("accept"))))
    scenario.when(REFERRER, a_withdrawal()).then(ReferralWithdrawn)
    assert stage_of(scenario) == "withdrawn"


def test_a_withdrawn_referral_cannot_be_accepted(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral()), (REFERRER, a_withdrawal())))
    scenario.when(RECEIVER, a_response("accept")).then_rejected("illegal-transition", "referral_ref")


def test_a_declined_referral_cannot_be_withdrawn(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral()), (RECEIVER, a_response("decline"))))
    scenario.when(REFERRER, a_withdrawal()).then_rejected("illegal-transition")


def test_nothing_follows_a_closed_referral(scenario: Scenario, history: History) -> None:
    scenario.given(
        *history((REFERRER, a_referral()), (RECEIVER, a_response("accept")), (RECEIVER, a_response("close")))
    )
    scenario.when(REFERRER, a_withdrawal()).then_rejected("illegal-transition")
    scenario.when(RECEIVER, a_response("decline")).then_rejected("illegal-transition")
    scenario.when(RECEIVER, an_assessment("scheduled")).then_rejected("illegal-transition", "referral")


def test_a_referral_must_be_accepted_before_it_is_closed(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral())))
    scenario.when(RECEIVER, a_response("close")).then_rejected("illegal-transition")


def test_an_accepted_referral_cannot_then_be_declined(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral()), (RECEIVER, a_response("accept"))))
    scenario.when(RECEIVER, a_response("decline")).then_rejected("illegal-transition")


def test_an_assessment_under_a_referral_needs_the_referral_accepted(
    scenario: Scenario, history: History
) -> None:
    scenario.given(*history((REFERRER, a_referral())))
    scenario.when(RECEIVER, an_assessment("scheduled")).then_rejected("illegal-transition", "referral")


def test_only_the_receiving_agency_may_accept_a_referral(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral())))
    scenario.when("police", a_response("accept", by="police")).then_rejected("not-receiving-agency")
    scenario.when(REFERRER, a_response("accept", by=REFERRER)).then_rejected("not-receiving-agency")
    scenario.when(REFERRER, a_response("close", by=REFERRER)).then_rejected("not-receiving-agency")


def test_only_the_receiving_agency_may_report_assessments_under_a_referral(
    scenario: Scenario, history: History
) -> None:
    scenario.given(*history((REFERRER, a_referral()), (RECEIVER, a_response("accept"))))
    scenario.when("jobcentre", an_assessment("scheduled", by="jobcentre")).then_rejected(
        "not-receiving-agency", "referral"
    )


def test_only_the_referring_agency_may_withdraw_a_referral(scenario: Scenario, history: History) -> None:
    scenario.given(*history((REFERRER, a_referral())))
    scenario.when(RECEIVER, a_withdrawal(by=RECEIVER)).then_rejected("not-referring-agency", "referral_ref")


def test_a_response_to_an_unknown_referral_is_rejected(scenario: Scenario) -> None:
    scenario.when(RECEIVER, a_response("accept", "R-404")).then_rejected("unknown-referral", "referral_ref")
    scenario.when(REFERRER, a_withdrawal("R-404")).then_rejected("unknown-referral", "referral_ref")
    scenario.when(RECEIVER, an_assessment("scheduled", under=(REFERRER, "R-404"))).then_rejected(
        "unknown-referral", "referral.referral_ref"
    )


def test_a_cancelled_assessment_no_longer_counts_towards_the_referrals_stage(
    scenario: Scenario, history: History
) -> None:
    scenario.given(
        *history(
            (REFERRER, a_referral()),
            (RECEIVER, a_response("accept")),
            (RECEIVER, an_assessment("scheduled", "A-1")),
            (RECEIVER, an_assessment("started", "A-2")),
        )
    )
    assert stage_of(scenario) == "assessment-started"
    scenario.when(RECEIVER, an_assessment("cancelled", "A-2")).then(AssessmentCancelled)
    assert stage_of(scenario) == "assessment-scheduled"


def test_state_built_from_given_events_matches_state_built_by_handling(history: History) -> None:
    steps = ((REFERRER, a_referral()), (RECEIVER, a_response("accept")), (RECEIVER, an_assessment("started")))
    handled = Scenario(MemoryReferralStore()).when_all(steps)
    rebuilt = Scenario(MemoryReferralStore()).given(*history(*steps))
    assert handled.state.referral(KEY) == rebuilt.state.referral(KEY)
    assert rebuilt.state.referral(KEY) is not None
