"""The synthetic UK-shaped population (joinedup.local.synthetic) that identity is measured against."""

from __future__ import annotations

from collections import Counter
from functools import cache

from joinedup.contract.identifiers import nhs_number_is_valid, normalise_nhs_number
from joinedup.contract.vocabularies import vocabularies
from joinedup.local.synthetic import NoiseLevel, SyntheticPopulation, generate_population


@cache
def population(noise: str = "moderate", seed: int = 1) -> SyntheticPopulation:
    return generate_population(seed, 300, NoiseLevel.named(noise))


def test_the_same_seed_gives_the_same_population() -> None:
    again = generate_population(1, 300, NoiseLevel.moderate())
    assert again.records == population().records
    assert again.truth == population().truth
    assert again.updates == population().updates


def test_a_different_seed_gives_a_different_population() -> None:
    assert population(seed=2).records != population().records


def test_every_record_has_ground_truth_and_an_agency_from_the_vocabulary() -> None:
    pop = population()
    agencies = vocabularies().agencies.code_set()
    assert {r.key for r in pop.records} == set(pop.truth)
    assert {r.agency for r in pop.records} <= agencies
    assert len({r.agency for r in pop.records}) >= 8
    assert set(pop.truth.values()) <= {p.person_id for p in pop.persons}


def test_local_ids_are_unique_within_each_agency() -> None:
    keys = [r.key for r in population().records]
    assert len(keys) == len(set(keys))


def test_persons_have_several_agencies_records() -> None:
    per_person = Counter(population().truth.values())
    assert max(per_person.values()) >= 4
    assert sum(1 for n in per_person.values() if n >= 2) > len(per_person) / 2


def test_nhs_numbers_are_valid_by_mod_11_and_a_mistyped_one_is_never_another_valid_number() -> None:
    pop = population("high")
    true_number = {p.person_id: p.nhs_number for p in pop.persons}
    assert all(nhs_number_is_valid(n) for n in true_number.values())
    written = [
        (normalise_nhs_number(r.nhs_number), true_number[pop.truth[r.key]])
        for r in pop.records
        if r.nhs_number
    ]
    mistyped = [(w, t) for w, t in written if w != t]
    assert mistyped
    assert all(not nhs_number_is_valid(w) for w, _ in mistyped)
    assert any(r.nhs_number is None for r in pop.records)


def test_twins_share_a_birthday_and_an_address_but_not_a_first_name() -> None:
    pop = population()
    persons = {p.person_id: p for p in pop.persons}
    assert pop.twins
    for a, b in pop.twins:
        assert persons[a].date_of_birth == persons[b].date_of_birth
        assert persons[a].addresses == persons[b].addresses
        assert persons[a].family_name == persons[b].family_name
        assert persons[a].given_names[0] != persons[b].given_names[0]
        assert persons[a].nhs_number != persons[b].nhs_number


def test_common_names_are_shared_by_different_people() -> None:
    pop = population()
    persons = {p.person_id: p for p in pop.persons}
    assert pop.common_name_groups
    for group in pop.common_name_groups:
        names = {(persons[p].given_names[0], persons[p].family_name) for p in group}
        assert len(group) >= 3
        assert len(names) == 1
        assert len({persons[p].nhs_number for p in group}) == len(group)


def test_more_noise_means_more_records_that_differ_from_the_truth() -> None:
    def errors(pop: SyntheticPopulation) -> int:
        persons = {p.person_id: p for p in pop.persons}
        count = 0
        for record in pop.records:
            person = persons[pop.truth[record.key]]
            count += record.date_of_birth not in (None, person.date_of_birth)
            count += (record.given_names or "").split(" ")[0] not in (
                "",
                person.given_names[0],
                person.family_name,
            )
        return count

    assert errors(population("low")) < errors(population("moderate")) < errors(population("high"))


def test_updates_are_later_observations_of_records_already_seen() -> None:
    pop = population("high")
    seen = {r.key: r for r in pop.records}
    assert pop.updates
    assert all(u.key in seen and u != seen[u.key] for u in pop.updates)
    assert pop.stream() == pop.records + pop.updates


def test_a_record_converts_to_the_contracts_person_record_fields() -> None:
    fields = population().records[0].person_record()
    assert set(fields) == {
        "local_person_id",
        "nhs_number",
        "ni_number",
        "given_names",
        "family_name",
        "date_of_birth",
        "sex",
        "address_lines",
        "postcode",
        "phone",
        "email",
        "other_identifiers",
    }
