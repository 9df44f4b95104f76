"""Property: the handler is a deterministic function of its input sequence (ARCHITECTURE invariant 3)."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.testing import (
    EARLIER,
    NOW,
    Scenario,
    a_contact,
    a_person,
    a_referral,
    a_response,
    a_withdrawal,
    an_assessment,
)
from joinedup.referral.domain.submissions import Submission

Step = tuple[str, Submission]
AGENCIES = ("probation", "council-housing", "police")
REFERRAL_REFS = ("R-1", "R-2")
WHEN = st.integers(min_value=0, max_value=120).map(lambda minutes: EARLIER - timedelta(minutes=minutes))


@st.composite
def steps(draw: st.DrawFn) -> Step:
    """Mostly a coherent world (probation refers to council housing, which answers and assesses), with some
    strays: unknown agencies, bad NHS numbers, the wrong agency acting, another agency's topic."""
    at = draw(WHEN)
    kind = draw(st.sampled_from(("referral", "response", "response", "withdrawal", "assessment", "contact")))
    ref = draw(st.sampled_from(REFERRAL_REFS))
    usual = draw(st.integers(0, 4)) > 0
    submission: Submission
    if kind == "referral":
        by = "probation" if usual else draw(st.sampled_from(AGENCIES))
        to = "council-housing" if usual else draw(st.sampled_from(("nhs-mh-trust", "nowhere")))
        nhs = "9434765919" if usual else "9434765918"
        submission = a_referral(ref, by=by, at=at, to_agency=to, subject=a_person(nhs_number=nhs))
    elif kind == "response":
        by = "council-housing" if usual else draw(st.sampled_from(AGENCIES))
        action = draw(st.sampled_from(("accept", "accept", "decline", "close")))
        submission = a_response(action, ref, by=by, referrer="probation", at=at)
    elif kind == "withdrawal":
        by = "probation" if usual else draw(st.sampled_from(AGENCIES))
        submission = a_withdrawal(ref, by=by, at=at)
    elif kind == "assessment":
        by = "council-housing" if usual else draw(st.sampled_from(AGENCIES))
        status = draw(st.sampled_from(("scheduled", "started", "completed", "cancelled")))
        under = draw(st.sampled_from((None, ("probation", "R-1"), ("probation", "R-2"))))
        submission = an_assessment(status, draw(st.sampled_from(("A-1", "A-2"))), by=by, under=under, at=at)
    else:
        by = draw(st.sampled_from(AGENCIES))
        summary = draw(st.sampled_from(("a", "b")))
        submission = a_contact(draw(st.sampled_from(("C-1", "C-2"))), by=by, at=at, summary=summary)
    # now and then an agency publishes on another agency's topic
    topic_agency = draw(st.sampled_from(AGENCIES)) if draw(st.integers(0, 9)) == 0 else by
    return (topic_agency, submission)


def run(sequence: list[Step], store: MemoryReferralStore | None = None) -> Scenario:
    scenario = Scenario(store or MemoryReferralStore())
    for index, (agency, submission) in enumerate(sequence):
        scenario.when(agency, submission, at=NOW + timedelta(seconds=index))
    return scenario


def canonical(scenario: Scenario) -> str:
    return json.dumps([o.model_dump(mode="json") for o in scenario.outcomes], sort_keys=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(steps(), max_size=30))
def test_replaying_the_same_submissions_from_empty_state_gives_identical_events_and_receipts(
    sequence: list[Step],
) -> None:
    assert canonical(run(sequence)) == canonical(run(sequence))


@settings(max_examples=60, deadline=None)
@given(st.lists(steps(), max_size=30))
def test_no_event_id_is_ever_emitted_twice(sequence: list[Step]) -> None:
    scenario = run(sequence)
    ids = [e.envelope.event_id for e in scenario.events]
    assert len(ids) == len(set(ids))
    receipt_ids = [o.receipt.envelope.event_id for o in scenario.outcomes if not o.duplicate]
    assert len(receipt_ids) == len(set(receipt_ids))


@settings(max_examples=60, deadline=None)
@given(st.lists(steps(), max_size=30))
def test_redelivering_every_accepted_submission_changes_nothing(sequence: list[Step]) -> None:
    store = MemoryReferralStore()
    first = run(sequence, store)
    accepted = [step for step, o in zip(sequence, first.outcomes, strict=True) if o.accepted]
    again = run(accepted, store)
    assert again.events == ()
    assert all(o.duplicate for o in again.outcomes)
    assert [o.receipt for o in again.outcomes] == [o.receipt for o in first.outcomes if o.accepted]
