"""Folding referral, assessment, contact and identity events into one view per person."""

from __future__ import annotations

from joinedup.contract.models.referral import (
    AssessmentCompleted,
    AssessmentScheduled,
    AssessmentStarted,
    ReferralAccepted,
    ReferralClosed,
)
from joinedup.projections.person_view import event_factory as f
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import PersonViewStore


def test_a_person_view_shows_the_linked_records_and_every_agencys_items(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.record_linked("P1", "council-housing", "H1", to=("police", "X1")),
            f.referral_received("police", "R1", "X1", to_agency="council-housing", when=f.at(2)),
            f.contact("council-housing", "C1", "H1", contact_type="home-visit", when=f.at(1)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    assert [(r.agency, r.local_person_id) for r in view.records] == [
        ("council-housing", "H1"),
        ("police", "X1"),
    ]
    assert [(i.item_id, i.kind, i.owner_agency) for i in view.items] == [
        ("contact:council-housing/C1", "contact", "council-housing"),
        ("referral:police/R1", "referral", "police"),
    ]
    referral = view.items[1]
    assert referral.counterpart_agency == "council-housing"
    assert referral.record == ("police", "X1")
    assert referral.type == "referral"


def test_a_referral_keeps_every_status_change_oldest_first(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.referral_received("police", "R1", "X1", when=f.at(1)),
            f.referral_status(ReferralClosed, "police", "R1", when=f.at(9)),
            f.referral_status(ReferralAccepted, "police", "R1", when=f.at(2)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    (referral,) = view.items
    assert [(c.status, c.at) for c in referral.history] == [
        ("received", f.at(1)),
        ("accepted", f.at(2)),
        ("closed", f.at(9)),
    ]
    assert referral.status == "closed"
    assert len(referral.source_event_ids) == 3


def test_a_status_change_that_arrives_before_its_referral_waits_for_it(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.referral_status(ReferralAccepted, "police", "R1", when=f.at(2)),
        ]
    )
    early = store.person("P1")
    assert early is not None
    assert early.items == ()
    projector.apply(f.referral_received("police", "R1", "X1", when=f.at(1)))
    view = store.person("P1")
    assert view is not None
    assert view.items[0].status == "accepted"


def test_an_assessment_is_one_item_through_its_lifecycle(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "council-asc", "A1"),
            f.assessment(AssessmentScheduled, "council-asc", "AS1", "A1", "care-act-s9-needs", when=f.at(3)),
            f.assessment(AssessmentStarted, "council-asc", "AS1", "A1", "care-act-s9-needs", when=f.at(4)),
            f.assessment(AssessmentCompleted, "council-asc", "AS1", "A1", "care-act-s9-needs", when=f.at(5)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    (item,) = view.items
    assert item.item_id == "assessment:council-asc/AS1"
    assert item.status == "completed"
    assert item.occurred_at == f.at(3)
    assert item.type == "care-act-s9-needs"


def test_the_same_event_delivered_twice_appears_once(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    received = f.referral_received("police", "R1", "X1", when=f.at(1))
    projector.apply_all([f.person_created("P1", "police", "X1"), received, received])
    view = store.person("P1")
    assert view is not None
    assert len(view.items) == 1
    assert len(view.items[0].history) == 1


def test_a_duplicate_identity_event_does_not_undo_a_later_split(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    linked = f.record_linked("P1", "council-housing", "H1", to=("police", "X1"))
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            linked,
            f.person_split("P1", (("council-housing", "H1", "P2"),), when=f.at(3)),
            linked,
        ]
    )
    assert store.person_of_record("council-housing", "H1") == "P2"


def test_items_of_a_record_not_yet_placed_are_held_until_identity_places_it(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply(f.contact("police", "C1", "X1"))
    assert store.person_of_record("police", "X1") is None
    assert store.unplaced_records() == [("police", "X1")]
    projector.apply(f.person_created("P1", "police", "X1"))
    view = store.person("P1")
    assert view is not None
    assert [i.item_id for i in view.items] == ["contact:police/C1"]
    assert store.unplaced_records() == []


def test_a_merge_re_homes_the_absorbed_persons_items_and_keeps_its_id_resolvable(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.person_created("P2", "council-housing", "H1"),
            f.contact("police", "C1", "X1"),
            f.contact("council-housing", "C2", "H1", contact_type="home-visit"),
            f.persons_merged("P1", ("P2",), when=f.at(4)),
        ]
    )
    assert store.resolve_person_id("P2") == "P1"
    assert store.person_of_record("council-housing", "H1") == "P1"
    absorbed = store.person("P2")
    assert absorbed is not None
    assert absorbed.person_id == "P1"
    assert {i.item_id for i in absorbed.items} == {"contact:police/C1", "contact:council-housing/C2"}
    assert store.person_ids() == ["P1"]


def test_a_split_moves_the_leaving_records_items_to_their_new_person(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.record_linked("P1", "council-housing", "H1", to=("police", "X1")),
            f.contact("police", "C1", "X1"),
            f.contact("council-housing", "C2", "H1", contact_type="home-visit"),
            f.person_split("P1", (("council-housing", "H1", "P2"),), when=f.at(5)),
        ]
    )
    first, second = store.person("P1"), store.person("P2")
    assert first is not None
    assert second is not None
    assert [i.item_id for i in first.items] == ["contact:police/C1"]
    assert [i.item_id for i in second.items] == ["contact:council-housing/C2"]


def test_a_record_split_back_out_to_an_absorbed_id_makes_that_id_current_again(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.person_created("P2", "council-housing", "H1"),
            f.persons_merged("P1", ("P2",), when=f.at(2)),
            f.person_split("P1", (("council-housing", "H1", "P2"),), when=f.at(3)),
        ]
    )
    assert store.resolve_person_id("P2") == "P2"
    assert store.aliases() == []


def test_an_unknown_person_id_resolves_to_nothing(store: PersonViewStore) -> None:
    assert store.resolve_person_id("nobody") is None
    assert store.person("nobody") is None


def test_a_records_identifiers_come_from_its_newest_report(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    newer = f.person_record("X1", family_name="Newer", postcode="M6 5AB")
    older = f.person_record("X1", family_name="Older")
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.contact("police", "C2", "X1", when=f.at(5), subject=newer),
            f.contact("police", "C1", "X1", when=f.at(1), subject=older),
        ]
    )
    view = store.person("P1")
    assert view is not None
    assert view.records[0].family_name == "Newer"
    assert view.records[0].postcode == "M6 5AB"
