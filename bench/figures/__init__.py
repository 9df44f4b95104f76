"""What the benchmark scripts share to report their figures."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the value at rank ``share`` (0.5 for p50, 0.99 for p99) of ``values``
    sorted; ``nan`` when there are none. Every script in bench/ reports its percentiles this way."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
