"""Person-level evidence (fs-v3): a pair that scores a link on names and a near date of birth, but shares no
address, phone, e-mail or near identifier, joins only when another record of the person corroborates it — in
every arrival order, never across a cannot-link, and also when the corroborating record arrives last."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from joinedup.projections.identity.events import (
    REVIEW_UNCORROBORATED,
    RULE_PERSON_EVIDENCE,
    MatchReviewRequested,
    PersonsMerged,
    RecordLinked,
)
from joinedup.projections.identity.explain import explain
from joinedup.projections.identity.match_model import default_match_model
from joinedup.projections.identity.matching import CORROBORATE, LINK, Matcher
from joinedup.projections.identity.nicknames import default_nicknames
from joinedup.projections.identity.normalise import features_of
from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordKey,
    RecordObserved,
    SourceRecord,
)
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore

NHS_A = "9434765919"
NHS_B = "9434765870"
PHONE = "07700 900123"
ADDRESS: dict[str, Any] = {"postcode": "M6 5AB", "address_lines": ("12 Acacia Avenue",)}
T0 = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)

A1 = RecordKey("gp-practice", "G1")
A2 = RecordKey("council-housing", "H1")
B = RecordKey("police", "P1")
C = RecordKey("probation", "N1")


def record(key: RecordKey, **fields: Any) -> SourceRecord:
    values: dict[str, Any] = {"given_names": "Jane", "family_name": "Doe"}
    values.update(fields)
    return SourceRecord(agency=key.agency, local_person_id=key.local_person_id, **values)


# A1 and A2 are one person by their NHS number (A2 carries a married surname and the phone).
# B is "Jane Doe" born three days after A1's date and shares nothing else with A1: alone it may be another
# Jane Doe. B's phone is A2's: the person's other record places B at the person.
RECORDS = {
    A1: record(A1, nhs_number=NHS_A, date_of_birth=date(1980, 3, 14)),
    A2: record(A2, nhs_number=NHS_A, family_name="Brown", phone=PHONE),
    B: record(B, date_of_birth=date(1980, 3, 17), phone=PHONE),
}


def observations(keys: list[RecordKey], records: dict[RecordKey, SourceRecord]) -> list[RecordObserved]:
    return [
        RecordObserved(
            record=records[key],
            source_event_id=f"event-{n}",
            observed_at=T0 + timedelta(minutes=n),
        )
        for n, key in enumerate(keys)
    ]


def persons(resolver: IdentityResolver, keys: list[RecordKey]) -> frozenset[frozenset[RecordKey]]:
    by_person: dict[str | None, set[RecordKey]] = {}
    for key in keys:
        by_person.setdefault(resolver.person_of(key), set()).add(key)
    return frozenset(frozenset(members) for members in by_person.values())


def features(key: RecordKey, records: dict[RecordKey, SourceRecord]) -> Any:
    return features_of(records[key], default_nicknames())


def test_a_pair_with_names_and_a_near_date_of_birth_alone_needs_corroboration() -> None:
    matcher = Matcher(default_match_model())
    b_with_a1 = matcher.compare(features(B, RECORDS), features(A1, RECORDS))
    b_with_a2 = matcher.compare(features(B, RECORDS), features(A2, RECORDS))
    assert b_with_a1.verdict == CORROBORATE
    assert b_with_a1.review_reason == REVIEW_UNCORROBORATED
    assert b_with_a2.verdict not in (LINK, CORROBORATE)


def test_without_the_corroborating_record_the_pair_stays_apart_and_goes_to_review() -> None:
    resolver = IdentityResolver(InMemoryIdentityStore())
    events = resolver.resolve_all(observations([A1, B], RECORDS))
    assert resolver.person_of(A1) != resolver.person_of(B)
    reviews = [e for e in events if isinstance(e, MatchReviewRequested)]
    assert [r.reason_code for r in reviews] == [REVIEW_UNCORROBORATED]


def partitions_in_every_order(records: dict[RecordKey, SourceRecord]) -> set[frozenset[frozenset[RecordKey]]]:
    """The distinct partitions the resolver reaches over every arrival order of ``records``."""
    keys = sorted(records)
    partitions = set()
    for order in itertools.permutations(keys):
        resolver = IdentityResolver(InMemoryIdentityStore())
        resolver.resolve_all(observations(list(order), records))
        partitions.add(persons(resolver, keys))
    return partitions


def test_a_person_level_link_is_found_in_every_arrival_order() -> None:
    assert partitions_in_every_order(RECORDS) == {frozenset({frozenset(sorted(RECORDS))})}


def test_the_person_level_link_names_the_record_that_corroborated_it() -> None:
    resolver = IdentityResolver(InMemoryIdentityStore())
    resolver.resolve_all(observations([A1, A2, B], RECORDS))
    explanation = explain(resolver.store, B)
    held = [link for link in explanation.links if link.holds and link.rule == RULE_PERSON_EVIDENCE]
    assert len(held) == 1
    assert "phone:agree@council-housing/H1" in held[0].agreed_fields
    assert "date_of_birth:one-part" in held[0].agreed_fields


def test_a_pending_pair_is_re_evaluated_when_the_corroborating_record_arrives_later() -> None:
    resolver = IdentityResolver(InMemoryIdentityStore())
    resolver.resolve_all(observations([A1, B], RECORDS))
    assert resolver.person_of(A1) != resolver.person_of(B)
    events = resolver.resolve(observations([A1, B, A2], RECORDS)[2])
    assert resolver.person_of(A1) == resolver.person_of(A2) == resolver.person_of(B)
    evidence = [
        link
        for e in events
        if isinstance(e, PersonsMerged | RecordLinked)
        for link in (e.bridging_links if isinstance(e, PersonsMerged) else (e.evidence,))
    ]
    assert any(link.rule == RULE_PERSON_EVIDENCE for link in evidence)


def test_a_person_level_link_that_would_cross_a_cannot_link_is_refused_in_every_order() -> None:
    # B is held by C, which carries another valid NHS number: B's person can never join A1's, whatever B's
    # phone says.
    records = {
        **RECORDS,
        C: record(C, nhs_number=NHS_B, date_of_birth=date(1980, 3, 17), **ADDRESS),
        B: record(B, date_of_birth=date(1980, 3, 17), phone=PHONE, **ADDRESS),
    }
    assert partitions_in_every_order(records) == {frozenset({frozenset({A1, A2}), frozenset({B, C})})}


def test_a_first_name_that_is_only_the_other_records_middle_name_is_not_linked_on_score() -> None:
    # Twins: Claire, and Ann Claire, born the same day at one address with one phone.
    shared: dict[str, Any] = {
        "family_name": "Cox",
        "date_of_birth": date(2005, 9, 7),
        "sex": "F",
        "postcode": "M30 0RG",
        "address_lines": ("Flat 31", "48 Nicholson Court"),
        "phone": "020 7946 0962",
    }
    twins = {A1: record(A1, given_names="Claire", **shared), B: record(B, given_names="Ann Claire", **shared)}
    comparison = Matcher(default_match_model()).compare(features(A1, twins), features(B, twins))
    assert comparison.verdict not in (LINK, CORROBORATE)


def test_twins_both_written_surname_first_are_not_joined_in_any_arrival_order() -> None:
    # Each twin has one record with the names the wrong way round: those two agree on the "first name"
    # (the surname), the birthday, the address and the phone. Their other records show one surname with
    # two first names: a household, so the scored link between the swapped records joins nobody (a swapped
    # record that fits both twins this evenly is left on its own for a reviewer).
    home: dict[str, Any] = {"date_of_birth": date(1941, 7, 3), "sex": "F", **ADDRESS}
    hannah_swapped, elliott_swapped = RecordKey("council-housing", "H1"), RecordKey("police", "P1")
    hannah, elliott = RecordKey("council-asc", "A1"), RecordKey("jobcentre", "J1")
    records = {
        hannah_swapped: record(
            hannah_swapped, given_names="Parkinson", family_name="Hannah", phone=PHONE, **home
        ),
        elliott_swapped: record(
            elliott_swapped, given_names="Parkinson", family_name="Elliott", phone=PHONE, **home
        ),
        hannah: record(hannah, given_names="Hannah Diane", family_name="Parkinson", **home),
        elliott: record(elliott, given_names="Elliott", family_name="Parkinson", **home),
    }
    matcher = Matcher(default_match_model())
    swapped_pair = matcher.compare(features(hannah_swapped, records), features(elliott_swapped, records))
    assert swapped_pair.verdict == LINK  # the pair alone cannot tell the twins apart
    partitions = partitions_in_every_order(records)
    assert len(partitions) == 1
    twin_of = {hannah_swapped: "H", hannah: "H", elliott_swapped: "E", elliott: "E"}
    (partition,) = partitions
    assert all(len({twin_of[key] for key in person}) == 1 for person in partition)


def test_one_valid_nhs_number_links_a_record_written_surname_first_under_a_former_surname() -> None:
    # "Barnett, Lydia" surname first, and "Lydia Ryan" under her former surname: as written, neither name
    # agrees; read the right way round the first names do, and the number, the birthday and the address too.
    home: dict[str, Any] = {"nhs_number": NHS_A, "date_of_birth": date(1945, 9, 12), **ADDRESS}
    records = {
        A1: record(A1, given_names="Lydia", family_name="Ryan", **home),
        B: record(B, given_names="Barnett", family_name="Lydia", **home),
    }
    comparison = Matcher(default_match_model()).compare(features(A1, records), features(B, records))
    assert comparison.verdict == LINK
    assert comparison.rule == "nhs-number"


def test_a_person_level_link_falls_when_its_corroborating_record_is_asserted_to_be_someone_else(
    different_persons: Callable[..., DifferentPersonsAsserted],
) -> None:
    # B joins A1 only through A2's phone; once a DPO says A2 is not A1's person, nothing corroborates B-A1.
    resolver = IdentityResolver(InMemoryIdentityStore())
    resolver.resolve_all(observations([A1, A2, B], RECORDS))
    assert resolver.person_of(A1) == resolver.person_of(B)
    resolver.resolve(different_persons((A1.agency, A1.local_person_id), (A2.agency, A2.local_person_id)))
    assert resolver.person_of(A1) != resolver.person_of(A2)
    assert resolver.person_of(A1) != resolver.person_of(B)
    assert all(link.rule != RULE_PERSON_EVIDENCE for link in explain(resolver.store, A1).links if link.holds)


def test_a_person_level_link_falls_when_its_corroborating_record_changes_its_phone() -> None:
    resolver = IdentityResolver(InMemoryIdentityStore())
    resolver.resolve_all(observations([A1, A2, B], RECORDS))
    assert resolver.person_of(A1) == resolver.person_of(B)
    moved = {**RECORDS, A2: RECORDS[A2].model_copy(update={"phone": "07700 900999"})}
    resolver.resolve(observations([A1, A2, B, A2], moved)[3])
    assert resolver.person_of(A1) == resolver.person_of(A2)
    assert resolver.person_of(A1) != resolver.person_of(B)
