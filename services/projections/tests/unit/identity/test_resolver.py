from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from joinedup.projections.identity.events import (
    REVIEW_ASSERTED_LINK_REFUSED,
    REVIEW_GREY_BAND,
    RULE_NHS_NUMBER,
    RULE_SAME_PERSON_ASSERTED,
    SPLIT_DIFFERENT_PERSONS_ASSERTED,
    SPLIT_RECORD_OBSERVED,
    AnyIdentityEvent,
    MatchReviewRequested,
    PersonCreated,
    PersonsMerged,
    PersonSplit,
    RecordLinked,
)
from joinedup.projections.identity.membership import Membership
from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordKey,
    RecordObserved,
    ResolverInput,
    SamePersonAsserted,
)
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.rules import (
    AssertionAboutOneRecordError,
    AssertionContradictsIdentifiersError,
)

Observe = Callable[..., RecordObserved]
NHS_A = "9434765919"
NHS_B = "9434765870"
ADDRESS = {"address_lines": ("12 Cross Lane", "Salford"), "postcode": "M6 5AB"}
SamePerson = Callable[..., SamePersonAsserted]
DifferentPersons = Callable[..., DifferentPersonsAsserted]


def pid(resolver: IdentityResolver, agency: str, local_id: str) -> str | None:
    return resolver.person_of(RecordKey(agency, local_id))


def of_type(events: list[AnyIdentityEvent], kind: type) -> list[AnyIdentityEvent]:
    return [e for e in events if isinstance(e, kind)]


def test_a_new_record_creates_a_person(resolver: IdentityResolver, observe: Observe) -> None:
    events = resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    assert [type(e) for e in events] == [PersonCreated]
    created = events[0]
    assert isinstance(created, PersonCreated)
    assert created.record.key() == RecordKey("police", "P1")
    assert pid(resolver, "police", "P1") == created.person_id


def test_a_matching_record_is_linked_to_the_person_with_its_evidence(
    resolver: IdentityResolver, observe: Observe
) -> None:
    created = resolver.resolve(observe("police", "P1", nhs_number=NHS_A))[0]
    events = resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_A, given_names="Janet"))
    assert [type(e) for e in events] == [RecordLinked]
    linked = events[0]
    assert isinstance(linked, RecordLinked)
    assert isinstance(created, PersonCreated)
    assert linked.person_id == created.person_id
    assert linked.evidence.rule == RULE_NHS_NUMBER
    assert linked.evidence.linked_to.key() == RecordKey("police", "P1")
    assert "date_of_birth:exact" in linked.evidence.agreed_fields


def test_every_event_records_the_model_version_and_its_cause(
    resolver: IdentityResolver, observe: Observe
) -> None:
    observation = observe("police", "P1")
    events = resolver.resolve(observation)
    assert events
    assert all(e.model_version == "fs-v3" for e in events)
    assert all(e.causation_id == observation.source_event_id for e in events)
    assert all(e.occurred_at == observation.observed_at for e in events)


def test_a_record_that_bridges_two_persons_merges_them_and_the_older_survives(
    resolver: IdentityResolver, observe: Observe
) -> None:
    # A name alone is not enough to link: two persons.
    older = resolver.resolve(observe("police", "P1", nhs_number=NHS_A))[0]
    younger = resolver.resolve(observe("charity-shelter", "C1", date_of_birth=None, phone="01614960123"))
    assert isinstance(older, PersonCreated)
    assert [type(e) for e in younger] == [PersonCreated, MatchReviewRequested]
    absorbed = younger[0]
    assert isinstance(absorbed, PersonCreated)
    # A record carrying the NHS number and the phone belongs to both.
    bridge = observe("gp-practice", "G1", nhs_number=NHS_A, phone="01614960123", **ADDRESS)
    events = resolver.resolve(bridge)
    merged = of_type(events, PersonsMerged)
    assert len(merged) == 1
    assert isinstance(merged[0], PersonsMerged)
    assert merged[0].person_id == older.person_id
    assert merged[0].absorbed_person_ids == (absorbed.person_id,)
    bridge_key = RecordKey("gp-practice", "G1")
    assert merged[0].bridging_links
    assert all(bridge_key in (b.record.key(), b.linked_to.key()) for b in merged[0].bridging_links)
    keys = [RecordKey("police", "P1"), RecordKey("charity-shelter", "C1"), RecordKey("gp-practice", "G1")]
    assert {resolver.person_of(k) for k in keys} == {older.person_id}
    assert resolver.current_person_id(absorbed.person_id) == older.person_id


def test_a_record_seen_again_with_a_changed_nhs_number_is_re_resolved(
    resolver: IdentityResolver, observe: Observe
) -> None:
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_A))
    resolver.resolve(observe("nhs-acute-trust", "A1", nhs_number=NHS_B, given_names="Peter", sex="M"))
    person = pid(resolver, "police", "P1")
    # The GP corrects the number: the record belongs to the other person now.
    events = resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_B, given_names="Peter", sex="M"))
    split = of_type(events, PersonSplit)
    assert len(split) == 1
    assert isinstance(split[0], PersonSplit)
    assert split[0].person_id == person
    assert split[0].reason_code == SPLIT_RECORD_OBSERVED
    assert pid(resolver, "gp-practice", "G1") == resolver.person_of(RecordKey("nhs-acute-trust", "A1"))
    assert pid(resolver, "police", "P1") == person


def test_a_record_seen_again_unchanged_or_a_duplicate_input_changes_nothing(
    resolver: IdentityResolver, observe: Observe
) -> None:
    observation = observe("police", "P1", nhs_number=NHS_A)
    assert resolver.resolve(observation)
    assert resolver.resolve(observation) == []
    assert resolver.resolve(observe("police", "P1", nhs_number=NHS_A)) == []


def test_a_later_observation_without_identifiers_does_not_erase_them(
    resolver: IdentityResolver, observe: Observe
) -> None:
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    resolver.resolve(
        observe("police", "P1", given_names=None, family_name=None, date_of_birth=None, sex=None)
    )
    events = resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_A))
    assert isinstance(events[0], RecordLinked)
    assert events[0].evidence.rule == RULE_NHS_NUMBER


def test_asserting_different_persons_splits_them_and_records_who_and_why(
    resolver: IdentityResolver, observe: Observe, different_persons: DifferentPersons
) -> None:
    resolver.resolve(observe("police", "P1", **ADDRESS))
    resolver.resolve(observe("council-housing", "H1", **ADDRESS))
    person = pid(resolver, "police", "P1")
    assert pid(resolver, "council-housing", "H1") == person
    events = resolver.resolve(different_persons(("police", "P1"), ("council-housing", "H1")))
    assert [type(e) for e in events] == [PersonCreated, PersonSplit]
    split = events[1]
    assert isinstance(split, PersonSplit)
    assert split.reason_code == SPLIT_DIFFERENT_PERSONS_ASSERTED
    assert (split.asserted_by, split.reason) == (
        "dpo-3",
        "two residents of one hostel, checked against the tenancy list",
    )
    assert pid(resolver, "police", "P1") == person
    assert pid(resolver, "council-housing", "H1") != person
    # Honoured forever after: a third record that links to both does not bring them back together.
    resolver.resolve(observe("gp-practice", "G1", **ADDRESS))
    assert pid(resolver, "police", "P1") != resolver.person_of(RecordKey("council-housing", "H1"))


def test_asserting_same_person_merges_them_and_records_who_and_why(
    resolver: IdentityResolver, observe: Observe, same_person: SamePerson
) -> None:
    resolver.resolve(observe("police", "P1", given_names="Jo"))
    resolver.resolve(observe("charity-shelter", "C1", given_names="Joanne", family_name="Smith"))
    events = resolver.resolve(same_person(("police", "P1"), ("charity-shelter", "C1")))
    merged = of_type(events, PersonsMerged)
    assert len(merged) == 1
    assert isinstance(merged[0], PersonsMerged)
    assert merged[0].asserted_by == "caseworker-17"
    assert merged[0].bridging_links[0].rule == RULE_SAME_PERSON_ASSERTED
    assert pid(resolver, "police", "P1") == resolver.person_of(RecordKey("charity-shelter", "C1"))


def test_asserting_same_person_across_two_valid_nhs_numbers_is_refused(
    resolver: IdentityResolver, observe: Observe, same_person: SamePerson
) -> None:
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_B))
    with pytest.raises(AssertionContradictsIdentifiersError) as raised:
        resolver.resolve(same_person(("police", "P1"), ("gp-practice", "G1")))
    assert "Jane" not in str(raised.value)
    assert NHS_A not in str(raised.value)


def test_of_two_conflicting_same_person_assertions_the_later_wins_and_the_other_goes_to_review(
    resolver: IdentityResolver, observe: Observe, same_person: SamePerson
) -> None:
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    resolver.resolve(observe("council-asc", "S1", given_names="Sam", sex=None))
    resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_B, given_names="Eve"))
    resolver.resolve(same_person(("council-asc", "S1"), ("police", "P1"), assertion_id="a-1", day=1))
    assert pid(resolver, "council-asc", "S1") == pid(resolver, "police", "P1")
    events = resolver.resolve(
        same_person(("council-asc", "S1"), ("gp-practice", "G1"), assertion_id="a-2", day=2)
    )
    refused = of_type(events, MatchReviewRequested)
    assert len(refused) == 1
    assert isinstance(refused[0], MatchReviewRequested)
    assert refused[0].reason_code == REVIEW_ASSERTED_LINK_REFUSED
    assert {refused[0].record.key(), refused[0].candidate.key()} == {
        RecordKey("council-asc", "S1"),
        RecordKey("police", "P1"),
    }
    assert pid(resolver, "council-asc", "S1") == resolver.person_of(RecordKey("gp-practice", "G1"))


def test_an_assertion_about_one_record_twice_is_rejected(
    resolver: IdentityResolver, same_person: SamePerson
) -> None:
    with pytest.raises(AssertionAboutOneRecordError):
        resolver.resolve(same_person(("police", "P1"), ("police", "P1")))


def test_an_assertion_is_honoured_for_records_that_arrive_after_it(
    resolver: IdentityResolver, observe: Observe, different_persons: DifferentPersons
) -> None:
    assert resolver.resolve(different_persons(("police", "P1"), ("council-housing", "H1"))) == []
    resolver.resolve(observe("police", "P1", **ADDRESS))
    resolver.resolve(observe("council-housing", "H1", **ADDRESS))
    assert pid(resolver, "police", "P1") != resolver.person_of(RecordKey("council-housing", "H1"))


def test_a_grey_band_pair_asks_for_review_once(resolver: IdentityResolver, observe: Observe) -> None:
    resolver.resolve(observe("police", "P1", date_of_birth=None))
    events = resolver.resolve(observe("probation", "N1"))
    reviews = of_type(events, MatchReviewRequested)
    assert len(reviews) == 1
    review = reviews[0]
    assert isinstance(review, MatchReviewRequested)
    assert review.reason_code == REVIEW_GREY_BAND
    assert review.score is not None
    assert set(review.agreed_fields) >= {"given_name:exact", "family_name:exact"}
    # The same evidence again (the record re-sent with a new phone, say) does not ask again.
    again = resolver.resolve(observe("probation", "N1", email="jane.doe@example.org"))
    assert of_type(again, MatchReviewRequested) == []


def test_applying_the_events_in_order_gives_the_resolvers_partition(
    resolver: IdentityResolver, observe: Observe, same_person: SamePerson, different_persons: DifferentPersons
) -> None:
    events: list[AnyIdentityEvent] = []
    inputs: list[ResolverInput] = [
        observe("police", "P1", nhs_number=NHS_A),
        observe("charity-shelter", "C1", date_of_birth=None, phone="01614960123"),
        observe("council-housing", "H1", given_names="Peter", sex="M", **ADDRESS),
        observe("gp-practice", "G1", nhs_number=NHS_A, phone="01614960123", **ADDRESS),
        observe("nhs-acute-trust", "A1", given_names="Pete", sex="M", **ADDRESS),
        different_persons(("gp-practice", "G1"), ("charity-shelter", "C1")),
        observe("gp-practice", "G1", nhs_number=NHS_B),
        same_person(("council-housing", "H1"), ("police", "P1"), assertion_id="assert-9"),
    ]
    for message in inputs:
        events.extend(resolver.resolve(message))
    membership = Membership()
    for event in events:
        membership.apply(event)
    expected = {key: resolver.person_of(key) for key in resolver.store.record_keys()}
    assert membership.partition() == dict(sorted(expected.items()))


def test_record_dates_are_not_in_event_messages(resolver: IdentityResolver, observe: Observe) -> None:
    events = resolver.resolve(observe("police", "P1", date_of_birth=date(1980, 3, 14), nhs_number=NHS_A))
    text = "".join(e.model_dump_json() for e in events)
    assert "1980" not in text
    assert NHS_A not in text
    assert "Jane" not in text


def test_a_same_person_assertion_that_a_later_record_makes_impossible_goes_to_review(
    resolver: IdentityResolver, observe: Observe, same_person: SamePerson
) -> None:
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    assert resolver.resolve(same_person(("police", "P1"), ("gp-practice", "G1"))) == []
    events = resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_B))
    refused = of_type(events, MatchReviewRequested)
    assert len(refused) == 1
    assert isinstance(refused[0], MatchReviewRequested)
    assert refused[0].reason_code == REVIEW_ASSERTED_LINK_REFUSED
    assert pid(resolver, "police", "P1") != pid(resolver, "gp-practice", "G1")
