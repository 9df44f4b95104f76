"""Repeat-assessment alerts raised by the person view projector, on both stores."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from joinedup.contract.envelope import JOINEDUP_SOURCE, event_id_for
from joinedup.contract.models.referral import (
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentScheduled,
    AssessmentStarted,
    ReferralAccepted,
)
from joinedup.contract.models.shared_records import RecordRef
from joinedup.projections.person_view import event_factory as f
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import MemoryPersonViewStore, PersonViewStore
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore

S9 = "care-act-s9-needs"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> PersonViewStore:
    if request.param == "memory":
        return MemoryPersonViewStore()
    return SqlitePersonViewStore(sqlite3.connect(":memory:", isolation_level=None))


@pytest.fixture
def projector(store: PersonViewStore) -> PersonViewProjector:
    projector = PersonViewProjector(store)
    projector.apply_all(
        [
            f.person_created("P1", "council-asc", "A1"),
            f.record_linked("P1", "nhs-mh-trust", "M1", to=("council-asc", "A1")),
            f.assessment(AssessmentScheduled, "council-asc", "AS1", "A1", S9, when=f.at(1)),
            f.assessment(AssessmentCompleted, "council-asc", "AS1", "A1", S9, when=f.at(10)),
        ]
    )
    return projector


def test_scheduling_an_equivalent_assessment_alerts_the_scheduling_agency(
    projector: PersonViewProjector,
) -> None:
    scheduled = f.assessment(
        AssessmentScheduled, "nhs-mh-trust", "B1", "M1", "care-act-carers", when=f.at(30)
    )
    learned = f.at(30) + timedelta(seconds=2)
    (alert,) = projector.apply(scheduled, recorded_at=learned)
    assert alert.to_agency == "nhs-mh-trust"
    assert alert.person_id == "P1"
    assert alert.equivalence_group == "adult-care-needs"
    assert (alert.trigger.kind, alert.trigger.agency, alert.trigger.ref) == (
        "assessment",
        "nhs-mh-trust",
        "B1",
    )
    assert [(e.agency, e.ref, e.status) for e in alert.earlier] == [("council-asc", "AS1", "completed")]
    assert alert.envelope.event_id == event_id_for("RepeatAssessmentDetected", alert.alert_id)
    assert alert.envelope.event_type == "RepeatAssessmentDetected"
    assert alert.envelope.occurred_at == f.at(30)
    assert alert.envelope.recorded_at == learned
    assert alert.envelope.causation_id == scheduled.envelope.event_id
    assert alert.envelope.correlation_id == scheduled.envelope.correlation_id
    assert alert.envelope.source_agency == JOINEDUP_SOURCE
    assert alert.envelope.subject == RecordRef(agency="nhs-mh-trust", local_person_id="M1")


def test_an_alert_is_recorded_when_its_trigger_was_when_no_kafka_time_is_given(
    projector: PersonViewProjector,
) -> None:
    scheduled = f.assessment(AssessmentScheduled, "nhs-mh-trust", "B1", "M1", S9, when=f.at(30))
    (alert,) = projector.apply(scheduled)
    assert alert.envelope.recorded_at == scheduled.envelope.recorded_at


def test_the_triggers_later_status_changes_raise_no_second_alert(projector: PersonViewProjector) -> None:
    alerts = projector.apply_all(
        [
            f.assessment(AssessmentScheduled, "nhs-mh-trust", "B1", "M1", S9, when=f.at(30)),
            f.assessment(AssessmentStarted, "nhs-mh-trust", "B1", "M1", S9, when=f.at(31)),
            f.assessment(AssessmentCompleted, "nhs-mh-trust", "B1", "M1", S9, when=f.at(32)),
        ]
    )
    assert len(alerts) == 1


def test_a_referral_requesting_an_equivalent_assessment_and_the_assessment_it_leads_to_alert_once(
    projector: PersonViewProjector,
) -> None:
    alerts = projector.apply_all(
        [
            f.referral_received(
                "nhs-mh-trust", "R1", "M1", to_agency="council-asc", requested=S9, when=f.at(20)
            ),
            f.referral_status(ReferralAccepted, "nhs-mh-trust", "R1", to_agency="council-asc", when=f.at(21)),
            f.assessment(
                AssessmentScheduled,
                "council-asc",
                "AS2",
                "A1",
                S9,
                when=f.at(22),
                referral=("nhs-mh-trust", "R1"),
            ),
        ]
    )
    (alert,) = alerts
    assert (alert.trigger.kind, alert.to_agency) == ("referral", "nhs-mh-trust")


def test_an_assessment_outside_the_window_raises_nothing(projector: PersonViewProjector) -> None:
    late = f.assessment(AssessmentScheduled, "nhs-mh-trust", "B1", "M1", S9, when=f.at(10 + 366))
    assert projector.apply(late) == []


def test_an_assessment_of_another_group_raises_nothing(projector: PersonViewProjector) -> None:
    other = f.assessment(AssessmentScheduled, "council-housing", "B1", "M1", "hra-s189a", when=f.at(30))
    assert projector.apply(other) == []


def test_a_merge_that_reveals_a_repeat_raises_it_then(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    before = projector.apply_all(
        [
            f.person_created("P2", "probation", "Z1"),
            f.assessment(AssessmentScheduled, "probation", "B1", "Z1", S9, when=f.at(30)),
        ]
    )
    assert before == []
    merge = f.persons_merged("P1", ("P2",), when=f.at(35))
    (alert,) = projector.apply(merge)
    assert alert.envelope.occurred_at == f.at(35)
    assert alert.envelope.causation_id == merge.envelope.event_id
    assert alert.to_agency == "probation"
    assert projector.apply(merge) == []  # the merge delivered again
    view = store.person("P2")
    assert view is not None
    assert [(a.assessment_item_id, a.earlier_item_ids) for a in view.alerts] == [
        ("assessment:probation/B1", ("assessment:council-asc/AS1",))
    ]


def test_a_placement_that_reveals_a_held_repeat_raises_it_then(projector: PersonViewProjector) -> None:
    assert (
        projector.apply(f.assessment(AssessmentScheduled, "probation", "B1", "Z1", S9, when=f.at(30))) == []
    )
    linked = f.record_linked("P1", "probation", "Z1", to=("council-asc", "A1"), when=f.at(33))
    (alert,) = projector.apply(linked)
    assert alert.envelope.causation_id == linked.envelope.event_id


def test_an_open_alert_shows_in_the_view_until_its_trigger_is_cancelled(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply(f.assessment(AssessmentScheduled, "nhs-mh-trust", "B1", "M1", S9, when=f.at(30)))
    view = store.person("P1")
    assert view is not None
    (alert,) = view.alerts
    assert alert.requesting_agency == "nhs-mh-trust"
    assert alert.detected_at == f.at(30)
    projector.apply(f.assessment(AssessmentCancelled, "nhs-mh-trust", "B1", "M1", S9, when=f.at(31)))
    cancelled = store.person("P1")
    assert cancelled is not None
    assert cancelled.alerts == ()


def test_an_alert_leaves_the_view_when_a_split_separates_the_two_assessments(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply(f.assessment(AssessmentScheduled, "nhs-mh-trust", "B1", "M1", S9, when=f.at(30)))
    assert projector.apply(f.person_split("P1", (("nhs-mh-trust", "M1", "P9"),), when=f.at(40))) == []
    for person in ("P1", "P9"):
        view = store.person(person)
        assert view is not None
        assert view.alerts == ()
