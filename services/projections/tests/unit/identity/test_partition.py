from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.projections.identity.links import TIER_RULE, TIER_SCORE, Link
from joinedup.projections.identity.partition import StrongIds, partition_records
from joinedup.projections.identity.records import RecordKey

A, B, C, D = (RecordKey("police", f"R{i}") for i in range(1, 5))


def link(a: RecordKey, b: RecordKey, score: float, tier: int = TIER_SCORE) -> Link:
    low, high = sorted((a, b))
    return Link(low, high, tier, score, None, (), ("k",))


def ids(**nhs: str) -> dict[RecordKey, StrongIds]:
    named = {"A": A, "B": B, "C": C, "D": D}
    return {key: StrongIds(nhs.get(name), None) for name, key in named.items()}


def test_linked_records_form_one_group() -> None:
    result = partition_records([A, B, C, D], [link(A, B, 30), link(B, C, 25)], ids(), {})
    assert result.groups == ((A, B, C), (D,))


def test_two_different_nhs_numbers_stay_apart_even_through_a_chain_of_links() -> None:
    # A (NHS x) - B (no number) - C (NHS y): B joins the stronger side, and C can never join it.
    result = partition_records([A, B, C], [link(A, B, 20), link(B, C, 30)], ids(A="x", C="y"), {})
    assert result.groups == ((A,), (B, C))


def test_a_must_not_link_assertion_is_honoured_transitively() -> None:
    result = partition_records([A, B, C], [link(A, B, 30), link(B, C, 30)], ids(), {A: [C], C: [A]})
    assert len(result.groups) == 2
    assert all(not ({A, C} <= set(group)) for group in result.groups)


def test_rule_links_are_tried_before_any_score() -> None:
    links = [link(B, C, 90), link(A, B, 20, tier=TIER_RULE)]
    result = partition_records([A, B, C], links, ids(A="x", C="y"), {})
    assert result.groups == ((A, B), (C,))


def test_a_record_that_fits_two_persons_who_cannot_be_one_is_left_alone() -> None:
    # B scores the same against A and C, who carry different NHS numbers: which one B is, a human says.
    links = [link(A, B, 30), link(B, C, 29.5), link(C, D, 40, tier=TIER_RULE)]
    result = partition_records([A, B, C, D], links, ids(A="x", C="y", D="y"), {}, ambiguity_margin=8.0)
    assert result.groups == ((A,), (B,), (C, D))
    assert result.ambiguous == (B,)


def test_a_clear_winner_is_not_ambiguous() -> None:
    links = [link(A, B, 40), link(B, C, 19)]
    result = partition_records([A, B, C], links, ids(A="x", C="y"), {}, ambiguity_margin=8.0)
    assert result.groups == ((A, B), (C,))
    assert result.ambiguous == ()


_keys = [RecordKey("agency", f"R{i}") for i in range(7)]
_pairs = list(itertools.combinations(_keys, 2))


@settings(max_examples=50, deadline=None)
@given(
    chosen=st.lists(st.tuples(st.sampled_from(_pairs), st.sampled_from([18.0, 22.5, 30.0])), max_size=12),
    numbers=st.lists(st.sampled_from([None, "x", "y"]), min_size=7, max_size=7),
    seed=st.randoms(use_true_random=False),
)
def test_the_partition_does_not_depend_on_the_order_links_and_records_are_given_in(
    chosen: list[tuple[tuple[RecordKey, RecordKey], float]], numbers: list[str | None], seed: random.Random
) -> None:
    links = list({pair: link(pair[0], pair[1], score) for pair, score in chosen}.values())
    strong = {key: StrongIds(number, None) for key, number in zip(_keys, numbers, strict=True)}
    expected = partition_records(_keys, links, strong, {}, 8.0)
    shuffled_links, shuffled_keys = list(links), list(_keys)
    seed.shuffle(shuffled_links)
    seed.shuffle(shuffled_keys)
    assert partition_records(shuffled_keys, shuffled_links, strong, {}, 8.0) == expected
    for group in expected.groups:
        assert len({strong[key].nhs for key in group} - {None}) <= 1
