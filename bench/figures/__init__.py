"""What the benchmark scripts share to report their figures."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the value at rank ``share`` (0.5 for p50, 0.99 for p99) of ``values``
    sorted; ``nan`` when there are none. Every script in bench/ reports its percentiles this way."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def load_average() -> str:
    """The machine's 1-, 5- and 15-minute load averages, as /proc/loadavg gives them ("0.52 0.61 0.70")."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (utime and stime, fields 14 and 15 of
    /proc/<pid>/stat); raises OSError once the process is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
