"""Finding persons by their records' identifiers, normalised."""

from __future__ import annotations

from datetime import date

import pytest

from joinedup.projections.person_view import event_factory as f
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.read_model import PersonSearch
from joinedup.projections.person_view.store import PersonViewStore


@pytest.fixture
def people(store: PersonViewStore, projector: PersonViewProjector) -> PersonViewStore:
    jordan = f.person_record(
        "X1",
        nhs_number="943 476 5919",
        ni_number="AB 12 34 56 C",
        given_names="Jordan Alex",
        family_name="Example",
        date_of_birth=date(1994, 7, 21),
        postcode="M6 5AB",
    )
    sam = f.person_record("H1", given_names="Sam", family_name="Example", postcode="M6 5AB")
    projector.apply_all(
        [
            f.contact("police", "C1", "X1", subject=jordan),
            f.contact("council-housing", "C2", "H1", subject=sam, contact_type="home-visit"),
            f.contact("probation", "C3", "Z1", subject=sam, contact_type="office-appointment"),
            f.person_created("P1", "police", "X1"),
            f.person_created("P2", "council-housing", "H1"),
        ]
    )
    return store


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (PersonSearch(nhs_number="9434765919"), ["P1"]),
        (PersonSearch(nhs_number="943-476-5919"), ["P1"]),
        (PersonSearch(ni_number="ab123456"), ["P1"]),
        (PersonSearch(ni_number="AB123456D"), ["P1"]),
        (PersonSearch(family_name="EXAMPLE"), ["P1", "P2"]),
        (PersonSearch(family_name="example", given_name="alex"), ["P1"]),
        (PersonSearch(given_name="Jordan Alex"), ["P1"]),
        (PersonSearch(given_name="Jor"), []),
        (PersonSearch(postcode="m65ab"), ["P1", "P2"]),
        (PersonSearch(date_of_birth=date(1994, 7, 21), family_name="Example"), ["P1"]),
        (PersonSearch(family_name="Example", postcode="M1 1AA"), []),
        (PersonSearch(), []),
        (PersonSearch(nhs_number="  "), []),
    ],
)
def test_a_search_matches_normalised_identifiers_of_one_record(
    people: PersonViewStore, search: PersonSearch, expected: list[str]
) -> None:
    assert people.find_persons(search) == expected


def test_a_search_never_finds_a_record_no_identity_event_has_placed(people: PersonViewStore) -> None:
    assert people.find_persons(PersonSearch(given_name="sam")) == ["P2"]


def test_a_search_returns_at_most_the_limit_in_person_id_order(people: PersonViewStore) -> None:
    assert people.find_persons(PersonSearch(family_name="example"), limit=1) == ["P1"]


def test_a_search_finds_the_survivor_after_a_merge(
    people: PersonViewStore, projector: PersonViewProjector
) -> None:
    projector.apply(f.persons_merged("P1", ("P2",), when=f.at(3)))
    assert people.find_persons(PersonSearch(given_name="sam")) == ["P1"]


def test_the_person_of_a_record_is_known_once_placed(people: PersonViewStore) -> None:
    assert people.person_of_record("council-housing", "H1") == "P2"
    assert people.person_of_record("probation", "Z1") is None
