"""The repeat-assessment detector on its own: which pairs of occurrences are repeats."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from joinedup.contract.vocabularies import vocabularies
from joinedup.projections.alerts.detector import (
    Occurrence,
    RepeatFinding,
    StatusAt,
    alert_id_for,
    find_repeats,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
TYPES = vocabularies().assessment_types


def occurrence(
    item_id: str,
    assessment_type: str = "care-act-s9-needs",
    *,
    day: int = 0,
    status: str = "completed",
    kind: str = "assessment",
    root: str | None = None,
    last_day: int | None = None,
    history: tuple[tuple[str, int], ...] | None = None,
) -> Occurrence:
    """An occurrence first seen on ``day``; its ``history`` as (status, day) pairs (by default ``status``
    from ``day`` on, or scheduled on ``day`` then ``status`` from ``last_day`` on)."""
    agency, ref = item_id.split(":", 1)[1].split("/", 1)
    if history is None:
        first = "received" if kind == "referral" else "scheduled"
        history = ((status, day),) if last_day is None else ((first, day), (status, last_day))
    return Occurrence(
        item_id=item_id,
        root=root or item_id,
        kind=kind,
        agency=agency,
        ref=ref,
        assessment_type=assessment_type,
        occurred_at=T0 + timedelta(days=day),
        history=tuple(StatusAt(status=s, at=T0 + timedelta(days=d)) for s, d in history),
    )


def pairs(found: list[RepeatFinding]) -> list[tuple[str, str]]:
    return [(f.trigger.item_id, f.earlier.item_id) for f in found]


EARLIER = occurrence("assessment:council-asc/A1", day=0)


def test_the_same_type_within_its_window_is_a_repeat() -> None:
    later = occurrence("assessment:nhs-mh-trust/B1", day=100, status="scheduled")
    found = find_repeats([later, EARLIER], TYPES)
    assert pairs(found) == [("assessment:nhs-mh-trust/B1", "assessment:council-asc/A1")]
    assert found[0].equivalence_group == "adult-care-needs"
    assert found[0].alert_id == alert_id_for("assessment:nhs-mh-trust/B1", "assessment:council-asc/A1")


def test_a_type_of_the_same_equivalence_group_is_a_repeat() -> None:
    later = occurrence("assessment:charity-shelter/B1", "care-act-carers", day=10, status="scheduled")
    assert len(find_repeats([EARLIER, later], TYPES)) == 1


def test_a_type_of_another_group_is_not_a_repeat() -> None:
    later = occurrence("assessment:council-housing/B1", "hra-s189a", day=10, status="scheduled")
    assert find_repeats([EARLIER, later], TYPES) == []


def test_an_earlier_assessment_outside_its_repeat_window_is_not_a_repeat() -> None:
    later = occurrence("assessment:nhs-mh-trust/B1", day=366, status="scheduled")
    assert find_repeats([EARLIER, later], TYPES) == []


def test_the_window_runs_from_the_earlier_assessments_last_status_change() -> None:
    earlier = occurrence("assessment:council-asc/A1", day=0, last_day=300)
    later = occurrence("assessment:nhs-mh-trust/B1", day=600, status="scheduled")
    assert len(find_repeats([earlier, later], TYPES)) == 1


def test_the_window_is_the_earlier_assessments_own_type_window() -> None:
    cmht = occurrence("assessment:nhs-mh-trust/A1", "cmht-assessment", day=0)
    mha = occurrence("assessment:council-asc/B1", "mha-assessment", day=60, status="scheduled")
    assert len(find_repeats([cmht, mha], TYPES)) == 1  # cmht's window is 180 days
    mha_first = occurrence("assessment:council-asc/A1", "mha-assessment", day=0)
    cmht_later = occurrence("assessment:nhs-mh-trust/B1", "cmht-assessment", day=60, status="scheduled")
    assert find_repeats([mha_first, cmht_later], TYPES) == []  # mha's window is 30 days


@pytest.mark.parametrize("status", ["scheduled", "started", "completed"])
def test_an_earlier_assessment_counts_while_booked_in_progress_or_completed(status: str) -> None:
    earlier = occurrence("assessment:council-asc/A1", day=0, status=status)
    later = occurrence("assessment:nhs-mh-trust/B1", day=5, status="scheduled")
    assert len(find_repeats([earlier, later], TYPES)) == 1


def test_an_assessment_only_ever_cancelled_is_neither_an_earlier_one_nor_a_trigger() -> None:
    cancelled = occurrence("assessment:council-asc/A1", day=0, status="cancelled")
    later = occurrence("assessment:nhs-mh-trust/B1", day=5, status="scheduled")
    assert find_repeats([cancelled, later], TYPES) == []
    never_booked = occurrence("assessment:nhs-mh-trust/B1", day=5, status="cancelled")
    assert find_repeats([EARLIER, never_booked], TYPES) == []


def test_the_later_occurrence_is_the_trigger_never_the_earlier_one() -> None:
    later = occurrence("assessment:nhs-mh-trust/B1", day=5)
    assert pairs(find_repeats([later, EARLIER], TYPES)) == [
        ("assessment:nhs-mh-trust/B1", "assessment:council-asc/A1")
    ]


def test_an_open_referral_requesting_an_equivalent_assessment_is_a_trigger() -> None:
    referral = occurrence("referral:probation/R1", day=20, status="received", kind="referral")
    assert pairs(find_repeats([EARLIER, referral], TYPES)) == [
        ("referral:probation/R1", "assessment:council-asc/A1")
    ]


@pytest.mark.parametrize("status", ["declined", "withdrawn", "closed"])
def test_a_referral_received_and_since_closed_is_still_a_trigger(status: str) -> None:
    referral = occurrence("referral:probation/R1", day=20, status=status, kind="referral", last_day=29)
    (found,) = find_repeats([EARLIER, referral], TYPES)
    assert (found.trigger.item_id, found.trigger_status, found.detected_at) == (
        "referral:probation/R1",
        "received",
        T0 + timedelta(days=20),
    )


def test_a_referral_never_received_or_accepted_is_not_a_trigger() -> None:
    referral = occurrence("referral:probation/R1", day=20, status="declined", kind="referral")
    assert find_repeats([EARLIER, referral], TYPES) == []


def test_an_assessment_cancelled_before_the_trigger_is_not_an_earlier_one() -> None:
    earlier = occurrence("assessment:council-asc/A1", day=0, status="cancelled", last_day=10)
    later = occurrence("assessment:nhs-mh-trust/B1", day=20, status="scheduled")
    assert find_repeats([earlier, later], TYPES) == []


def test_an_assessment_cancelled_after_the_trigger_still_counts_as_it_stood_then() -> None:
    earlier = occurrence(
        "assessment:council-asc/A1", day=0, history=(("scheduled", 0), ("started", 5), ("cancelled", 30))
    )
    later = occurrence("assessment:nhs-mh-trust/B1", day=20, status="scheduled")
    (found,) = find_repeats([earlier, later], TYPES)
    assert found.earlier_status == "started"


def test_the_window_ignores_the_earlier_assessments_changes_after_the_trigger() -> None:
    earlier = occurrence("assessment:council-asc/A1", day=0, status="completed", last_day=700)
    later = occurrence("assessment:nhs-mh-trust/B1", day=600, status="scheduled")
    assert find_repeats([earlier, later], TYPES) == []


def test_a_finding_is_dated_at_its_trigger_and_reports_the_statuses_of_that_time() -> None:
    earlier = occurrence("assessment:council-asc/A1", day=0, status="completed", last_day=9)
    later = occurrence("assessment:nhs-mh-trust/B1", day=5, history=(("scheduled", 5), ("completed", 40)))
    (found,) = find_repeats([earlier, later], TYPES)
    assert (found.detected_at, found.trigger_status, found.earlier_status) == (
        T0 + timedelta(days=5),
        "scheduled",
        "scheduled",
    )


def test_a_referral_is_never_an_earlier_assessment() -> None:
    referral = occurrence("referral:probation/R1", day=0, status="accepted", kind="referral")
    later = occurrence("assessment:nhs-mh-trust/B1", day=5, status="scheduled")
    assert find_repeats([referral, later], TYPES) == []


def test_a_referral_and_the_assessment_made_under_it_raise_one_alert_per_earlier_assessment() -> None:
    referral = occurrence("referral:probation/R1", day=20, status="accepted", kind="referral")
    under_it = occurrence(
        "assessment:council-asc/B1", day=25, status="scheduled", root="referral:probation/R1"
    )
    found = find_repeats([EARLIER, referral, under_it], TYPES)
    assert pairs(found) == [("referral:probation/R1", "assessment:council-asc/A1")]


def test_the_alert_of_a_root_names_its_first_trigger_whatever_order_the_occurrences_come_in() -> None:
    referral = occurrence("referral:probation/R1", day=20, status="closed", kind="referral", last_day=29)
    under_it = occurrence(
        "assessment:council-asc/B1", day=25, status="scheduled", root="referral:probation/R1"
    )
    alone = find_repeats([EARLIER, under_it], TYPES)
    both = find_repeats([under_it, EARLIER, referral], TYPES)
    assert pairs(alone) == [("assessment:council-asc/B1", "assessment:council-asc/A1")]
    assert pairs(both) == [("referral:probation/R1", "assessment:council-asc/A1")]
    assert alone[0].alert_id == both[0].alert_id


def test_a_type_the_vocabulary_does_not_know_is_never_compared() -> None:
    earlier = replace(EARLIER, assessment_type="made-up")
    later = occurrence("assessment:nhs-mh-trust/B1", "made-up", day=5, status="scheduled")
    assert find_repeats([earlier, later], TYPES) == []


def test_a_trigger_repeating_two_earlier_assessments_raises_one_finding_per_pair_in_order() -> None:
    second = occurrence("assessment:nhs-mh-trust/A2", "care-act-carers", day=3)
    later = occurrence("assessment:charity-shelter/B1", day=10, status="scheduled")
    assert pairs(find_repeats([later, second, EARLIER], TYPES)) == [
        ("assessment:nhs-mh-trust/A2", "assessment:council-asc/A1"),
        ("assessment:charity-shelter/B1", "assessment:council-asc/A1"),
        ("assessment:charity-shelter/B1", "assessment:nhs-mh-trust/A2"),
    ]


def test_alert_ids_are_deterministic_and_differ_per_pair() -> None:
    assert alert_id_for("a", "b") == alert_id_for("a", "b")
    assert alert_id_for("a", "b") != alert_id_for("b", "a")
