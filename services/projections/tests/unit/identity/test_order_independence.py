"""A person is a connected component of links under the cannot-link constraints, so the partition must not
depend on arrival order; and replaying the same inputs must give byte-identical events."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.local.synthetic import NoiseLevel, SyntheticPopulation, SyntheticRecord, generate_population
from joinedup.projections.identity.match_model import MatchModel, default_match_model
from joinedup.projections.identity.membership import Membership
from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordKey,
    RecordObserved,
    RecordRef,
    ResolverInput,
    SamePersonAsserted,
    SourceRecord,
)
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore

T0 = datetime(2025, 7, 1, tzinfo=UTC)
Partition = frozenset[frozenset[RecordKey]]


@cache
def population(persons: int, seed: int = 5) -> SyntheticPopulation:
    return generate_population(seed, persons, NoiseLevel.high())


def observed(records: Sequence[SyntheticRecord]) -> list[ResolverInput]:
    return [
        RecordObserved(
            record=SourceRecord.from_person_record(r.agency, r.person_record()),
            source_event_id=f"{r.agency}/{r.local_person_id}/{i}",
            observed_at=T0 + timedelta(seconds=i),
        )
        for i, r in enumerate(records)
    ]


def assertions(pop: SyntheticPopulation) -> list[ResolverInput]:
    """A caseworker joins two records of one person; a DPO parts two others (rightly or not)."""
    by_person: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, person in sorted(pop.truth.items()):
        by_person[person].append(key)
    groups = [keys for _, keys in sorted(by_person.items()) if len(keys) >= 2]
    same, different = groups[0], groups[1]
    at = T0 + timedelta(days=30)
    return [
        SamePersonAsserted(
            assertion_id="same-1",
            first=RecordRef(agency=same[0][0], local_person_id=same[0][1]),
            second=RecordRef(agency=same[1][0], local_person_id=same[1][1]),
            asserted_by="caseworker-1",
            reason="seen together",
            asserted_at=at,
        ),
        DifferentPersonsAsserted(
            assertion_id="different-1",
            first=RecordRef(agency=different[0][0], local_person_id=different[0][1]),
            second=RecordRef(agency=different[1][0], local_person_id=different[1][1]),
            asserted_by="dpo-1",
            reason="checked",
            asserted_at=at + timedelta(hours=1),
        ),
    ]


def resolve(messages: Sequence[ResolverInput], model: MatchModel | None = None) -> IdentityResolver:
    resolver = IdentityResolver(InMemoryIdentityStore(), model)
    for message in messages:
        resolver.resolve(message)
    return resolver


def partition(resolver: IdentityResolver) -> Partition:
    persons: dict[str, set[RecordKey]] = defaultdict(set)
    for key in resolver.store.record_keys():
        person = resolver.person_of(key)
        assert person is not None
        persons[person].add(key)
    return frozenset(frozenset(members) for members in persons.values())


def test_three_arrival_orders_give_the_identical_partition() -> None:
    pop = population(250)
    messages = observed(pop.records)
    extra = assertions(pop)
    as_generated = [*extra[:1], *messages, *extra[1:]]
    reversed_order = [*reversed(messages), *extra]
    shuffled = list(messages)
    random.Random(7).shuffle(shuffled)
    shuffled = [*shuffled[:300], *extra, *shuffled[300:]]
    partitions = [partition(resolve(order)) for order in (as_generated, reversed_order, shuffled)]
    assert partitions[0] == partitions[1] == partitions[2]
    assert len(partitions[0]) < len(messages)  # records were linked, not left alone


def test_replaying_the_same_inputs_gives_byte_identical_events() -> None:
    pop = population(250)
    messages = [*observed(pop.stream()), *assertions(pop)]

    def replay() -> bytes:
        resolver = IdentityResolver(InMemoryIdentityStore())
        return b"\n".join(e.model_dump_json().encode() for m in messages for e in resolver.resolve(m))

    first, second = replay(), replay()
    assert first
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    assert first == second


def test_the_events_alone_rebuild_the_resolvers_partition() -> None:
    pop = population(250)
    resolver = IdentityResolver(InMemoryIdentityStore())
    membership = Membership()
    for message in [*observed(pop.stream()), *assertions(pop)]:
        for event in resolver.resolve(message):
            membership.apply(event)
    expected = {key: resolver.person_of(key) for key in sorted(resolver.store.record_keys())}
    assert membership.partition() == expected


def test_oversized_blocks_do_not_make_the_partition_order_dependent() -> None:
    base = default_match_model()
    tiny_blocks = base.model_copy(update={"blocking": base.blocking.model_copy(update={"max_block_size": 3})})
    pop = population(120, seed=9)
    messages = observed(pop.records)
    shuffled = list(messages)
    random.Random(3).shuffle(shuffled)
    partitions = [partition(resolve(order, tiny_blocks)) for order in (messages, messages[::-1], shuffled)]
    assert partitions[0] == partitions[1] == partitions[2]


def test_records_that_change_end_where_their_final_versions_would_put_them_from_scratch() -> None:
    """Re-resolution after changed identifiers (links dropped, blocks left and joined, oversized blocks
    shrinking back) gives the partition that the final versions of the records give in one go."""
    base = default_match_model()
    for cap in (3, base.blocking.max_block_size):
        model = base.model_copy(update={"blocking": base.blocking.model_copy(update={"max_block_size": cap})})
        pop = population(250)
        assert pop.updates
        streamed = observed(pop.stream())
        final: dict[RecordKey, SourceRecord] = {}
        for message in streamed:
            assert isinstance(message, RecordObserved)
            key = message.record.key
            final[key] = final[key].updated_by(message.record) if key in final else message.record
        from_scratch = [
            RecordObserved(record=record, source_event_id=f"final-{i}", observed_at=T0)
            for i, record in enumerate(sorted(final.values(), key=lambda r: (r.family_name or "", r.key)))
        ]
        assert partition(resolve(streamed, model)) == partition(resolve(from_scratch, model))


def test_a_record_that_changes_back_and_forth_ends_where_its_last_version_belongs() -> None:
    pop = population(120, seed=9)
    messages = observed(pop.records)
    record = pop.records[0]
    moved = record.model_copy(update={"nhs_number": None, "given_names": "Zebedee", "date_of_birth": None})
    changes = observed([moved, record])
    final = partition(resolve([*messages, *changes]))
    assert final == partition(resolve(messages))


@settings(max_examples=6, deadline=None)
@given(order=st.permutations(range(len(population(60, seed=21).records))))
def test_any_arrival_order_gives_the_same_partition(order: list[int]) -> None:
    messages = observed(population(60, seed=21).records)
    expected = partition(resolve(messages))
    assert partition(resolve([messages[i] for i in order])) == expected
