"""The same real-world contact reported by two agencies appears once in a person's view."""

from __future__ import annotations

from joinedup.projections.person_view import event_factory as f
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import PersonViewStore


def _one_person(projector: PersonViewProjector) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.record_linked("P1", "nhs-acute-trust", "Y1", to=("police", "X1")),
        ]
    )


def test_two_reports_naming_each_other_are_one_contact_owned_by_the_earliest(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    _one_person(projector)
    projector.apply_all(
        [
            f.contact("nhs-acute-trust", "AMB-9", "Y1", contact_type="ambulance-callout", when=f.at(3, 10)),
            f.contact("police", "INC-7", "X1", when=f.at(3, 9), related_refs=("nhs-acute-trust/AMB-9",)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    (item,) = view.items
    assert item.item_id == "contact:police/INC-7"
    assert item.owner_agency == "police"
    assert item.references == ("nhs-acute-trust/AMB-9", "police/INC-7")
    assert len(item.source_event_ids) == 2
    assert set(item.data_categories) == {"identity", "criminal-justice"}


def test_reports_at_the_same_moment_are_owned_by_the_lower_agency_id(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    _one_person(projector)
    projector.apply_all(
        [
            f.contact("police", "INC-7", "X1", when=f.at(3), related_refs=("nhs-acute-trust/AMB-9",)),
            f.contact("nhs-acute-trust", "AMB-9", "Y1", contact_type="ambulance-callout", when=f.at(3)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    assert [i.item_id for i in view.items] == ["contact:nhs-acute-trust/AMB-9"]


def test_contacts_that_do_not_name_each_other_stay_apart(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    _one_person(projector)
    projector.apply_all(
        [
            f.contact("police", "INC-7", "X1", when=f.at(3), related_refs=("police/INC-1",)),
            f.contact("nhs-acute-trust", "AMB-9", "Y1", contact_type="ambulance-callout", when=f.at(3)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    assert len(view.items) == 2


def test_related_contacts_of_two_different_persons_are_not_merged(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.person_created("P2", "nhs-acute-trust", "Y1"),
            f.contact("police", "INC-7", "X1", when=f.at(3), related_refs=("nhs-acute-trust/AMB-9",)),
            f.contact("nhs-acute-trust", "AMB-9", "Y1", contact_type="ambulance-callout", when=f.at(3)),
        ]
    )
    first, second = store.person("P1"), store.person("P2")
    assert first is not None
    assert second is not None
    assert [i.item_id for i in first.items] == ["contact:police/INC-7"]
    assert [i.item_id for i in second.items] == ["contact:nhs-acute-trust/AMB-9"]


def test_a_merge_that_joins_two_reports_of_one_contact_shows_it_once(
    store: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply_all(
        [
            f.person_created("P1", "police", "X1"),
            f.person_created("P2", "nhs-acute-trust", "Y1"),
            f.contact("police", "INC-7", "X1", when=f.at(3), related_refs=("nhs-acute-trust/AMB-9",)),
            f.contact("nhs-acute-trust", "AMB-9", "Y1", contact_type="ambulance-callout", when=f.at(4)),
            f.persons_merged("P1", ("P2",), when=f.at(5)),
        ]
    )
    view = store.person("P1")
    assert view is not None
    assert [i.item_id for i in view.items] == ["contact:police/INC-7"]
