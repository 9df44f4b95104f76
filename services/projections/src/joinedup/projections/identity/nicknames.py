"""Given-name variants (BILL is WILLIAM, PEGGY is MARGARET) from the packaged data/nicknames.csv."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib.resources import files


class Nicknames:
    """Maps a given name to the canonical names it may stand for (itself included)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        groups: dict[str, set[str]] = defaultdict(set)
        for canonical, variant in pairs:
            groups[canonical.upper()].add(canonical.upper())
            groups[variant.upper()].add(canonical.upper())
        self._groups = {name: frozenset(canon) for name, canon in groups.items()}
        members: dict[str, set[str]] = defaultdict(set)
        for name, canon in groups.items():
            for canonical in canon:
                members[canonical].add(name)
        self._members = {canonical: frozenset(names) for canonical, names in members.items()}

    def canonical(self, name: str) -> frozenset[str]:
        """The canonical names ``name`` may stand for; ``{name}`` when it is not in the list."""
        return self._groups.get(name, frozenset((name,)))

    def variants(self, name: str) -> frozenset[str]:
        """Every name that shares a canonical name with ``name`` (BILL: WILLIAM, WILL, BILLY...), itself
        included."""
        found: set[str] = {name}
        for canonical in self.canonical(name):
            found |= self._members.get(canonical, frozenset())
        return frozenset(found)

    def equivalent(self, a: str, b: str) -> bool:
        return not self.canonical(a).isdisjoint(self.canonical(b))


def _rows(text: str) -> list[tuple[str, str]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines)
    return [(row["canonical"].strip(), row["variant"].strip()) for row in reader]


@cache
def default_nicknames() -> Nicknames:
    text = files("joinedup.projections.identity").joinpath("data", "nicknames.csv").read_text()
    return Nicknames(_rows(text))
