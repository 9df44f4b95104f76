"""At-least-once delivery: duplicates change nothing, conflicts are refused, ids survive a crash."""

from __future__ import annotations

from datetime import timedelta

from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.testing import (
    NOW,
    RECEIVER,
    REFERRER,
    Scenario,
    a_contact,
    a_referral,
    a_response,
    an_assessment,
    an_envelope,
)
from joinedup.referral.domain.events import AssessmentScheduled, ReferralAccepted, ReferralReceived
from joinedup.referral.domain.model import ReferralKey


def test_a_duplicate_submission_yields_one_event_set_and_the_same_receipt(scenario: Scenario) -> None:
    scenario.when(REFERRER, a_referral()).then(ReferralReceived)
    first = scenario.outcome.receipt
    receipt = scenario.when(REFERRER, a_referral(), at=NOW + timedelta(hours=2)).then_duplicate()
    assert receipt == first
    assert len(scenario.events) == 1


def test_a_republished_submission_with_a_new_envelope_id_is_still_a_duplicate(scenario: Scenario) -> None:
    original = a_referral()
    republished = original.model_copy(
        update={
            "envelope": original.envelope.model_copy(
                update={"event_id": "another-id", "recorded_at": NOW, "schema_fingerprint": "f" * 16}
            )
        }
    )
    scenario.when(REFERRER, original).then(ReferralReceived)
    scenario.when(REFERRER, republished).then_duplicate()


def test_a_duplicate_response_after_the_referral_moved_on_is_still_a_duplicate(scenario: Scenario) -> None:
    steps = (
        (REFERRER, a_referral()),
        (RECEIVER, a_response("accept")),
        (RECEIVER, an_assessment("scheduled")),
    )
    scenario.when_all(steps)
    scenario.when(RECEIVER, a_response("accept")).then_duplicate()
    scenario.when(RECEIVER, an_assessment("scheduled")).then_duplicate()
    assert [type(e) for e in scenario.events] == [ReferralReceived, ReferralAccepted, AssessmentScheduled]


def test_a_conflicting_resubmission_is_rejected_not_merged(scenario: Scenario) -> None:
    scenario.when(REFERRER, a_referral()).then(ReferralReceived)
    scenario.when(REFERRER, a_referral(to_agency="nhs-mh-trust")).then_rejected("conflict", "referral_ref")
    referral = scenario.state.referral(ReferralKey(REFERRER, "R-1"))
    assert referral is not None
    assert referral.to_agency == RECEIVER


def test_the_same_assessment_status_reported_twice_with_other_content_is_a_conflict(
    scenario: Scenario,
) -> None:
    scenario.when(RECEIVER, an_assessment("scheduled", under=None)).then(AssessmentScheduled)
    later = an_assessment("scheduled", under=None, occurred_at=NOW - timedelta(minutes=5))
    scenario.when(RECEIVER, later).then_rejected("conflict", "assessment_ref")


def test_a_contact_reported_again_with_other_content_is_a_conflict(scenario: Scenario) -> None:
    scenario.when("police", a_contact()).when("police", a_contact(summary="Different words."))
    scenario.then_rejected("conflict", "contact_ref")


def test_two_agencies_may_use_the_same_reference(scenario: Scenario) -> None:
    scenario.when(REFERRER, a_referral()).then(ReferralReceived)
    envelope = an_envelope("police", "ReferralSubmission", "R-1")
    scenario.when("police", a_referral(by="police", envelope=envelope)).then(ReferralReceived)
    assert len({e.envelope.event_id for e in scenario.events}) == 2


def test_a_rejected_submission_is_not_remembered_so_a_corrected_one_is_accepted(scenario: Scenario) -> None:
    scenario.when(REFERRER, a_referral(to_agency="nowhere")).then_rejected("unknown-agency")
    scenario.when(REFERRER, a_referral()).then(ReferralReceived)


def test_a_reemission_after_a_crash_carries_the_same_ids() -> None:
    store = MemoryReferralStore()
    steps = ((REFERRER, a_referral()), (RECEIVER, a_response("accept")))
    first = Scenario(store).when_all(steps)
    store.rollback()  # the worker died before committing: nothing it staged survives
    second = Scenario(store).when_all(steps)
    assert [o.model_dump() for o in second.outcomes] == [o.model_dump() for o in first.outcomes]


def test_staged_state_is_kept_only_when_committed_with_its_offsets() -> None:
    store = MemoryReferralStore()
    Scenario(store).when(REFERRER, a_referral())
    store.commit({("joinedup.intake.probation", 0): 1})
    Scenario(store).when(REFERRER, a_referral()).then_duplicate()
    assert store.offsets() == {("joinedup.intake.probation", 0): 1}
