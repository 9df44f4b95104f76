"""Repeat-assessment alerts raised by the person view projector, on both stores."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from joinedup.contract.envelope import JOINEDUP_SOURCE, event_id_for
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.models.event import Event
from joinedup.contract.models.referral import (
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentScheduled,
    AssessmentStarted,
    ReferralAccepted,
    ReferralClosed,
)
from joinedup.contract.models.shared_records import RecordRef
from joinedup.projections.person_view import event_factory as f
from joinedup.projections.person_view.canonical_hash import view_state_hash
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import MemoryPersonViewStore, PersonViewStore
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore

S9 = "care-act-s9-needs"


def new_store(kind: str) -> PersonViewStore:
    if kind == "memory":
        return MemoryPersonViewStore()
    return SqlitePersonViewStore(sqlite3.connect(":memory:", isolation_level=None))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> PersonViewStore:
    return new_store(request.param)


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


def test_a_merge_that_reveals_a_repeat_raises_it_then_dated_at_its_trigger(
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
    learned = f.at(35) + timedelta(seconds=1)
    (alert,) = projector.apply(merge, recorded_at=learned)
    assert alert.envelope.occurred_at == f.at(30)  # when the repeat happened
    assert alert.envelope.recorded_at == learned  # when joinedup learned of it
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


def _referral_closed_before_its_record_is_placed() -> tuple[list[Event], list[Event]]:
    """(identity events, referral events): an earlier s.9 assessment, and a referral requesting one from a
    record (probation Z1) that identity places in P1; the referral is received, accepted and closed."""
    identity = [
        f.person_created("P1", "council-asc", "A1", when=f.at(0)),
        f.record_linked("P1", "probation", "Z1", to=("council-asc", "A1"), when=f.at(1)),
    ]
    referral = [
        f.assessment(AssessmentScheduled, "council-asc", "AS1", "A1", S9, when=f.at(1)),
        f.assessment(AssessmentCompleted, "council-asc", "AS1", "A1", S9, when=f.at(10)),
        f.referral_received("probation", "R1", "Z1", to_agency="council-asc", requested=S9, when=f.at(20)),
        f.referral_status(ReferralAccepted, "probation", "R1", to_agency="council-asc", when=f.at(21)),
        f.referral_status(ReferralClosed, "probation", "R1", to_agency="council-asc", when=f.at(29)),
    ]
    return identity, referral


def _fields(alert: RepeatAssessmentDetected) -> dict[str, object]:
    """What an alert says, without the input that happened to reveal it (recorded_at, causation)."""
    fields = alert.model_dump(mode="json")
    for name in ("recorded_at", "causation_id", "correlation_id"):
        fields["envelope"].pop(name)
    return fields


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_identity_placement_arriving_after_a_referral_closed_still_raises_the_alert_with_the_same_fields(
    kind: str,
) -> None:
    identity, referral = _referral_closed_before_its_record_is_placed()
    natural_store, late_store = new_store(kind), new_store(kind)
    natural = PersonViewProjector(natural_store).apply_all([*identity, *referral])
    late = PersonViewProjector(late_store).apply_all([*referral, *identity])
    (alert,) = natural
    assert [_fields(a) for a in late] == [_fields(alert)]
    assert alert.envelope.occurred_at == f.at(20)
    assert (alert.trigger.kind, alert.trigger.status, alert.earlier[0].status) == (
        "referral",
        "received",
        "completed",
    )
    assert view_state_hash(late_store) == view_state_hash(natural_store)
    view = late_store.person("P1")
    assert view is not None
    assert [(a.assessment_item_id, a.detected_at) for a in view.alerts] == [
        ("referral:probation/R1", f.at(20))
    ]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_referral_arriving_after_the_assessment_made_under_it_takes_over_the_alert_without_a_second_one(
    kind: str,
) -> None:
    identity, referral = _referral_closed_before_its_record_is_placed()
    under_it = f.assessment(
        AssessmentScheduled, "council-asc", "AS2", "A1", S9, when=f.at(24), referral=("probation", "R1")
    )
    natural_store, late_store = new_store(kind), new_store(kind)
    natural = PersonViewProjector(natural_store).apply_all([*identity, *referral, under_it])
    late = PersonViewProjector(late_store).apply_all([*identity, *referral[:2], under_it, *referral[2:]])
    assert [a.alert_id for a in late] == [a.alert_id for a in natural]
    assert late[0].trigger.kind == "assessment"  # published before the referral was known: never again
    assert view_state_hash(late_store) == view_state_hash(natural_store)
    view = late_store.person("P1")
    assert view is not None
    assert [(a.assessment_item_id, a.requesting_agency) for a in view.alerts] == [
        ("referral:probation/R1", "probation")
    ]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_earlier_assessment_completed_after_the_trigger_raises_nothing_more_in_any_order(
    kind: str,
) -> None:
    identity, referral = _referral_closed_before_its_record_is_placed()
    stale = [
        f.assessment(AssessmentScheduled, "council-asc", "AS0", "A1", S9, when=f.at(-400)),
        f.assessment(AssessmentCompleted, "council-asc", "AS0", "A1", S9, when=f.at(25)),
    ]
    events = [*identity, *referral, *stale]
    hashes = set()
    for order in (events, [*stale, *referral, *identity], [*referral, *identity, *stale]):
        store = new_store(kind)
        alerts = PersonViewProjector(store).apply_all(order)
        assert [a.earlier[0].ref for a in alerts] == ["AS1"]  # AS0 was 420 days stale when R1 came
        hashes.add(view_state_hash(store))
    assert len(hashes) == 1


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_cancellation_dated_before_the_trigger_but_reported_after_it_takes_the_alert_out_of_the_view(
    kind: str,
) -> None:
    identity = [f.person_created("P1", "council-asc", "A1"), f.person_created("P2", "probation", "Z1")]
    earlier = f.assessment(AssessmentScheduled, "council-asc", "AS1", "A1", S9, when=f.at(1))
    cancelled = f.assessment(AssessmentCancelled, "council-asc", "AS1", "A1", S9, when=f.at(15))
    trigger = f.assessment(AssessmentScheduled, "council-asc", "AS2", "A1", S9, when=f.at(20))
    in_time, late = new_store(kind), new_store(kind)
    assert PersonViewProjector(in_time).apply_all([*identity, earlier, cancelled, trigger]) == []
    (published,) = PersonViewProjector(late).apply_all([*identity, earlier, trigger, cancelled])
    late_view = late.person("P1")
    assert late_view is not None
    assert late_view.alerts == ()  # published once when it seemed a repeat; never published again
    assert late.alert_of_pair("assessment:council-asc/AS2", "assessment:council-asc/AS1") is not None
    assert view_state_hash(late) == view_state_hash(in_time)
    assert published.earlier[0].status == "scheduled"


def test_a_store_from_before_alerts_could_stop_holding_opens_and_shows_its_alerts() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute(
        "CREATE TABLE pv_alerts (alert_id TEXT PRIMARY KEY, trigger_root TEXT NOT NULL, "
        "trigger_item_id TEXT NOT NULL, earlier_item_id TEXT NOT NULL, requesting_agency TEXT NOT NULL, "
        "equivalence_group TEXT NOT NULL, detected_at INTEGER NOT NULL, "
        "UNIQUE (trigger_root, earlier_item_id)) WITHOUT ROWID"
    )
    connection.execute(
        "INSERT INTO pv_alerts VALUES ('a1', 'assessment:x/B1', 'assessment:x/B1', 'assessment:y/A1', 'x', "
        "'adult-care-needs', 0)"
    )
    store = SqlitePersonViewStore(connection)
    old = store.alert_of_pair("assessment:x/B1", "assessment:y/A1")
    assert old is not None
    assert old.holds
    assert [row.alert_id for row in store.alerts_of_earlier(["assessment:y/A1"])] == ["a1"]
