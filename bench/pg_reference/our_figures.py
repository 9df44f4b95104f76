"""joinedup's own B1 and B3 figures, for the ratio B6 prints: given on the command line, or read from the
latest runs appended to docs/benchmarks.md.

What is read (the newest run block first; a block is a ``### <script> — <date>`` heading and its text):
- B1: the first line that says ``end to end`` (or ``end-to-end``) and gives ``<number> submissions/s``;
- B3: lines of the form ``<rate> req/s ... p50 <ms> ms, p99 <ms> ms`` (or ``<rate>/s ...``), in run blocks of
  ``projections_api``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
_BLOCK = re.compile(r"^### (\S+) — (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) UTC$", re.MULTILINE)
_B1 = re.compile(r"end[ -]to[ -]end.*?([\d,]+(?:\.\d+)?) submissions/s", re.IGNORECASE)
_B3 = re.compile(r"(\d+(?:\.\d+)?) ?(?:req)?/s\b.*?p50 ([\d.]+) ms, p99 ([\d.]+) ms")


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    source: str


@dataclass(frozen=True)
class OurFigures:
    b1_per_s: float | None = None
    b1_source: str = ""
    b3: dict[float, Latency] | None = None


def _blocks(text: str) -> list[tuple[str, str]]:
    """(``script — date``, text) of each appended run, newest first."""
    heads = list(_BLOCK.finditer(text))
    blocks = []
    for n, head in enumerate(heads):
        end = heads[n + 1].start() if n + 1 < len(heads) else len(text)
        blocks.append((f"{head.group(1)} — {head.group(2)} UTC", text[head.end() : end]))
    return blocks[::-1]


def read_figures(report: Path = REPORT) -> OurFigures:
    """The newest B1 throughput and the newest B3 latencies per rate found in ``report``."""
    try:
        text = report.read_text()
    except OSError:
        return OurFigures()
    b1: float | None = None
    b1_source = ""
    b3: dict[float, Latency] = {}
    for source, body in _blocks(text):
        if b1 is None:
            for line in body.splitlines():
                found = _B1.search(line)
                if found:
                    b1, b1_source = float(found.group(1).replace(",", "")), source
                    break
        if source.startswith("projections_api ") and not b3:
            for line in body.splitlines():
                for rate, p50, p99 in _B3.findall(line):
                    b3.setdefault(float(rate), Latency(float(p50), float(p99), source))
    return OurFigures(b1, b1_source, b3 or None)


def parse_latency_option(value: str) -> tuple[float, Latency]:
    """``RATE=P50/P99`` (milliseconds), as given on the command line."""
    rate, _, latencies = value.partition("=")
    p50, _, p99 = latencies.partition("/")
    return float(rate), Latency(float(p50), float(p99), "command line")
