from __future__ import annotations

import pytest

from joinedup.projections.identity.evaluation import conflicting_pairs, evaluate, merged_person_pairs

TRUTH = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "C"}


def test_a_perfect_partition_scores_one_everywhere() -> None:
    report = evaluate({k: f"p-{v}" for k, v in TRUTH.items()}, TRUTH)
    assert report.pairwise.f1 == 1.0
    assert report.cluster.f1 == 1.0
    assert report.bcubed.f1 == 1.0
    assert (report.false_merges, report.false_splits) == (0, 0)


def test_a_split_costs_recall_and_a_merge_costs_precision() -> None:
    predicted = {"a1": "x", "a2": "x", "a3": "y", "b1": "z", "b2": "z", "c1": "z"}
    report = evaluate(predicted, TRUTH)
    # true pairs: 3 (A) + 1 (B) = 4; predicted pairs: 1 (x) + 3 (z) = 4; correct: a1-a2, b1-b2 = 2
    assert report.pairwise.precision == pytest.approx(0.5)
    assert report.pairwise.recall == pytest.approx(0.5)
    # no predicted cluster equals a true one
    assert report.cluster.f1 == 0.0
    assert report.false_merges == 1
    assert report.false_splits == 1


def test_records_the_prediction_does_not_place_count_as_persons_of_their_own() -> None:
    report = evaluate({"a1": "x", "a2": "x"}, TRUTH)
    assert report.predicted_persons == 5
    assert report.pairwise.precision == 1.0
    assert report.pairwise.recall == pytest.approx(1 / 4)


def test_twins_merged_counts_pairs_of_true_persons_sharing_a_predicted_person() -> None:
    predicted = {"a1": "x", "a2": "x", "a3": "x", "b1": "x", "b2": "y", "c1": "z"}
    assert merged_person_pairs(predicted, TRUTH, [("A", "B"), ("B", "C")]) == 1


def test_conflicting_pairs_counts_records_with_different_identifiers_in_one_person() -> None:
    predicted = {"r1": "x", "r2": "x", "r3": "x", "r4": "y"}
    nhs = {"r1": "111", "r2": "111", "r3": "222", "r4": None}
    assert conflicting_pairs(predicted, nhs) == 2


def test_b_cubed_charges_a_stray_record_only_its_own_share() -> None:
    # A's three records split 2 + 1; B and C right.
    predicted = {"a1": "x", "a2": "x", "a3": "y", "b1": "z", "b2": "z", "c1": "w"}
    report = evaluate(predicted, TRUTH)
    assert report.bcubed.precision == 1.0
    # recall per record: a1, a2: 2/3; a3: 1/3; b1, b2, c1: 1 -> (2/3 + 2/3 + 1/3 + 3) / 6
    assert report.bcubed.recall == pytest.approx((5 / 3 + 3) / 6)
    # the exact-cluster measure counts all of A as wrong
    assert report.cluster.recall == pytest.approx(2 / 3)


def test_b_cubed_precision_falls_when_two_true_persons_share_one_predicted_person() -> None:
    predicted = {"a1": "x", "a2": "x", "a3": "x", "b1": "x", "b2": "x", "c1": "w"}
    report = evaluate(predicted, TRUTH)
    # a*: 3/5 each, b*: 2/5 each, c1: 1 -> (9/5 + 4/5 + 1) / 6
    assert report.bcubed.precision == pytest.approx((13 / 5 + 1) / 6)
    assert report.bcubed.recall == 1.0
