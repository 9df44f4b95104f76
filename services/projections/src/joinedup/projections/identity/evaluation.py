"""Quality of a partition against ground truth: pairwise, exact-cluster and B-cubed precision / recall / F1,
false merges.

* pairwise: over pairs of records placed together / truly together;
* cluster (exact): a predicted person counts only when it holds exactly the records of one true person, so one
  stray record makes the whole person wrong (the measure the identity targets are set on);
* B-cubed (Bagga and Baldwin, 1998): per record, the share of its predicted person that is truly its person
  (precision) and the share of its true person that its predicted person holds (recall), averaged over
  records; one stray record costs only that record's share.

Works on any hashable record key (``RecordKey`` or a plain ``(agency, local_id)`` tuple) and any person label.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

K = TypeVar("K", bound=Hashable)


class Scores(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, correct: int, predicted: int, actual: int) -> Scores:
        precision = correct / predicted if predicted else 1.0
        recall = correct / actual if actual else 1.0
        return cls.of_shares(precision, recall)

    @classmethod
    def of_shares(cls, precision: float, recall: float) -> Scores:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision=precision, recall=recall, f1=f1)


class QualityReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    records: int
    true_persons: int
    predicted_persons: int
    pairwise: Scores
    cluster: Scores
    """Exact-cluster scores: predicted persons identical to a true person."""
    bcubed: Scores
    """B-cubed scores: per-record overlap of predicted and true person, averaged over records."""
    false_merges: int
    """Predicted persons holding records of more than one true person."""
    false_splits: int
    """True persons whose records are spread over more than one predicted person."""


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _clusters(assignment: Mapping[K, str]) -> dict[str, list[K]]:
    clusters: dict[str, list[K]] = defaultdict(list)
    for key, label in assignment.items():
        clusters[label].append(key)
    return clusters


def evaluate(predicted: Mapping[K, str], truth: Mapping[K, str]) -> QualityReport:
    """Compare ``predicted`` (record -> person id) with ``truth`` (record -> true person) on truth's records.

    A record the prediction does not place counts as a person of its own.
    """
    placed: dict[K, str] = {
        key: predicted.get(key, f"\x00unplaced:{index}") for index, key in enumerate(truth)
    }
    cells = Counter((placed[key], truth[key]) for key in truth)
    predicted_clusters = _clusters(placed)
    true_clusters = _clusters(dict(truth))
    correct_pairs = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(len(c)) for c in predicted_clusters.values())
    true_pairs = sum(_pairs(len(c)) for c in true_clusters.values())
    predicted_sets = {frozenset(c) for c in predicted_clusters.values()}
    true_sets = {frozenset(c) for c in true_clusters.values()}
    exact = len(predicted_sets & true_sets)
    bcubed_precision = sum(
        cells[(placed[key], truth[key])] / len(predicted_clusters[placed[key]]) for key in truth
    )
    bcubed_recall = sum(cells[(placed[key], truth[key])] / len(true_clusters[truth[key]]) for key in truth)
    records = max(1, len(truth))
    truths_per_prediction = Counter(label for label, _ in cells)
    predictions_per_truth = Counter(person for _, person in cells)
    return QualityReport(
        records=len(truth),
        true_persons=len(true_sets),
        predicted_persons=len(predicted_sets),
        pairwise=Scores.of(correct_pairs, predicted_pairs, true_pairs),
        cluster=Scores.of(exact, len(predicted_sets), len(true_sets)),
        bcubed=Scores.of_shares(bcubed_precision / records, bcubed_recall / records),
        false_merges=sum(1 for n in truths_per_prediction.values() if n > 1),
        false_splits=sum(1 for n in predictions_per_truth.values() if n > 1),
    )


def merged_person_pairs(
    predicted: Mapping[K, str], truth: Mapping[K, str], person_pairs: Iterable[tuple[str, str]]
) -> int:
    """How many of the given pairs of true persons (twins, say) share at least one predicted person."""
    predicted_of: dict[str, set[str]] = defaultdict(set)
    for key, person in truth.items():
        label = predicted.get(key)
        if label is not None:
            predicted_of[person].add(label)
    return sum(1 for a, b in person_pairs if not predicted_of[a].isdisjoint(predicted_of[b]))


def conflicting_pairs(predicted: Mapping[K, str], identifier: Mapping[K, str | None]) -> int:
    """Pairs of records placed in one person although both carry an identifier and the identifiers differ.

    Pass the valid NHS numbers (or NI keys) of the records: the answer must be 0.
    """
    per_person: dict[str, Counter[str]] = defaultdict(Counter)
    for key, label in predicted.items():
        value = identifier.get(key)
        if value is not None:
            per_person[label][value] += 1
    total = 0
    for counts in per_person.values():
        total += _pairs(sum(counts.values())) - sum(_pairs(n) for n in counts.values())
    return total
