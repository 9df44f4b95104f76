"""Offline estimation of the model's m / u probabilities from labelled records (supervised counting).

Run on a labelled population (the synthetic one, or a clerically reviewed sample): m is the share of pairs of
records of one person at each level of a field, u the share among pairs of records of different people drawn
across the population (as Splink estimates u by random sampling). The result is a candidate for the next model
file, to be read with judgement: a synthetic generator cannot show every way real records differ (people
change phone numbers, for instance), and thresholds stay a human choice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from joinedup.projections.identity.match_model import FIELD_LEVELS, MatchModel, Probabilities
from joinedup.projections.identity.matching import Matcher
from joinedup.projections.identity.normalise import Features


def _counts(
    matcher: Matcher, features: Sequence[Features], pairs: Iterable[tuple[int, int]]
) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for a, b in pairs:
        counts.update(matcher.compare(features[a], features[b]).levels)
    return counts


def _probabilities(counts: Counter[tuple[str, str]], smoothing: float) -> dict[str, dict[str, float]]:
    shares: dict[str, dict[str, float]] = {}
    for field, levels in FIELD_LEVELS.items():
        total = sum(counts[(field, level)] for level in levels) + smoothing * len(levels)
        shares[field] = {level: (counts[(field, level)] + smoothing) / total for level in levels}
    return shares


def match_pairs(labels: Sequence[str]) -> list[tuple[int, int]]:
    """Every pair of records of the same true person."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    return [(a, b) for members in by_label.values() for i, a in enumerate(members) for b in members[i + 1 :]]


def spread_pairs(labels: Sequence[str], per_record: int) -> list[tuple[int, int]]:
    """A deterministic spread of pairs of different persons (record i with i+1, i+2+1, i+3+2+1, ...):
    what u means is the chance of a level between two records of different people drawn at random."""
    n = len(labels)
    pairs = []
    for i in range(n):
        step = 0
        for k in range(1, per_record + 1):
            step += k
            j = (i + step) % n
            if j != i and labels[i] != labels[j]:
                pairs.append((i, j))
    return pairs


def estimate_probabilities(
    features: Sequence[Features],
    labels: Sequence[str],
    model: MatchModel,
    *,
    pairs_per_record: int = 40,
    smoothing: float = 0.5,
) -> dict[str, dict[str, Probabilities]]:
    """m from every pair of records of one person, u from a spread of pairs of different people.

    ``labels[i]`` is the true person of ``features[i]``. Levels never seen get ``smoothing`` pseudo-counts.
    """
    matcher = Matcher(model)
    m = _probabilities(_counts(matcher, features, match_pairs(labels)), smoothing)
    u = _probabilities(_counts(matcher, features, spread_pairs(labels, pairs_per_record)), smoothing)
    return {
        field: {
            level: Probabilities(m=round(m[field][level], 6), u=round(u[field][level], 6)) for level in levels
        }
        for field, levels in FIELD_LEVELS.items()
    }
