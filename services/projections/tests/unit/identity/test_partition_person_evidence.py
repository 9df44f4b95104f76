"""Person-level evidence in the partition itself (partition.py), with a stand-in corroborator: a pending link
joins its two groups only while the record that corroborated it is one of the person's records."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.projections.identity.links import TIER_PENDING, TIER_PERSON, TIER_RULE, TIER_SCORE, Link
from joinedup.projections.identity.partition import Corroborator, StrongIds, partition_records
from joinedup.projections.identity.records import RecordKey

A, B, C, D, E, G = (RecordKey("police", f"R{i}") for i in range(1, 7))


def link(a: RecordKey, b: RecordKey, score: float, tier: int) -> Link:
    low, high = sorted((a, b))
    return Link(low, high, tier, score, None, (), ("k",))


def sharing(*pairs: tuple[RecordKey, RecordKey]) -> Corroborator:
    """A corroborator under which exactly the given pairs of records share a phone."""
    shared = {frozenset(pair) for pair in pairs}

    def corroborate(key: RecordKey, others: Sequence[RecordKey]) -> tuple[tuple[str, RecordKey], ...]:
        return tuple(("phone:agree", other) for other in others if frozenset((key, other)) in shared)

    return corroborate


def test_a_person_level_link_is_not_kept_when_its_corroborating_record_ends_in_another_person() -> None:
    # C-D is a scored link; B-C is pending and D corroborates it (D shares B's phone); A-B is pending and only
    # C corroborates it (C shares A's phone), so A-B is found a round later. A and D carry different NHS
    # numbers: A, B, C and D cannot all be one person. Whatever joins, A-B must not hold without C beside it.
    links = [
        link(C, D, 30.0, TIER_SCORE),
        link(B, C, 18.5, TIER_PENDING),
        link(A, B, 19.5, TIER_PENDING),
    ]
    strong = {key: StrongIds(None, None) for key in (B, C)} | {
        A: StrongIds("x", None),
        D: StrongIds("y", None),
    }
    result = partition_records([A, B, C, D], links, strong, {}, corroborate=sharing((B, D), (A, C)))
    group_of = {key: group for group in result.groups for key in group}
    assert group_of[A] != group_of[D]
    # B-C holds (D corroborates it); A-B, corroborated by C only, would bring A's number beside D's.
    assert result.groups == ((A,), (B, C, D))


def test_a_person_level_link_is_not_kept_when_its_corroborating_record_is_set_aside_as_ambiguous() -> None:
    # B-C is pending and only E corroborates it (E shares C's phone; B-E puts E in B's group). A-E is pending
    # too, corroborated by D, and refused (A and D carry different NHS numbers); yet once found it makes E
    # fit A's person as well as B's, so E is set aside as ambiguous, and with it the only evidence for B-C.
    # B and C must not stay one person on that link.
    links = [
        link(B, E, 25.0, TIER_SCORE),
        link(D, E, 20.5, TIER_SCORE),
        link(A, G, 22.0, TIER_SCORE),
        link(C, G, 19.0, TIER_SCORE),
        link(B, C, 19.0, TIER_PENDING),
        link(A, E, 25.0, TIER_PENDING),
    ]
    strong = {key: StrongIds(None, None) for key in (B, C, E)} | {
        A: StrongIds("x", None),
        D: StrongIds("y", None),
        G: StrongIds("y", None),
    }
    result = partition_records([A, B, C, D, E, G], links, strong, {}, 8.0, sharing((C, E), (A, D)))
    assert E in result.ambiguous
    group_of = {key: group for group in result.groups for key in group}
    assert group_of[B] != group_of[C], result.groups


_keys = [RecordKey("agency", f"R{i}") for i in range(7)]
_pairs = list(itertools.combinations(_keys, 2))


@settings(max_examples=200, deadline=None)
@given(
    chosen=st.lists(
        st.tuples(
            st.sampled_from(_pairs),
            st.sampled_from([18.0, 19.0, 20.5, 22.0, 25.0, 30.0]),
            st.sampled_from([TIER_RULE, TIER_SCORE, TIER_PENDING]),
        ),
        max_size=10,
    ),
    shared=st.lists(st.sampled_from(_pairs), max_size=5),
    numbers=st.lists(st.sampled_from([None, None, "x", "y"]), min_size=7, max_size=7),
    seed=st.randoms(use_true_random=False),
)
def test_person_level_links_hold_only_beside_their_evidence_whatever_order_the_links_come_in(
    chosen: list[tuple[tuple[RecordKey, RecordKey], float, int]],
    shared: list[tuple[RecordKey, RecordKey]],
    numbers: list[str | None],
    seed: random.Random,
) -> None:
    links = list({pair: link(pair[0], pair[1], score, tier) for pair, score, tier in chosen}.values())
    strong = {key: StrongIds(number, None) for key, number in zip(_keys, numbers, strict=True)}
    # A pending pair shares no locator itself (else it would link): its evidence is on other records.
    shared = [
        pair
        for pair in shared
        if all(pending.pair != pair for pending in links if pending.tier == TIER_PENDING)
    ]
    corroborate = sharing(*shared)
    expected = partition_records(_keys, links, strong, {}, 8.0, corroborate)
    shuffled_links, shuffled_keys = list(links), list(_keys)
    seed.shuffle(shuffled_links)
    seed.shuffle(shuffled_keys)
    assert partition_records(shuffled_keys, shuffled_links, strong, {}, 8.0, corroborate) == expected
    group_of = {key: group for group in expected.groups for key in group}
    for group in expected.groups:
        assert len({strong[key].nhs for key in group} - {None}) <= 1
    for used in expected.used:
        if used.tier == TIER_PERSON:
            by = {other for a, b in shared for key, other in ((a, b), (b, a)) if key in used.pair}
            assert any(group_of[key] == group_of[used.a] for key in by - set(used.pair))
