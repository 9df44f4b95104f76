"""The deterministic partition of one component of the link graph.

Links are tried in a fixed order (asserted, rule, score descending, then record keys) and each joins two
groups unless that would put two different valid NHS numbers, two different valid NI numbers, or two records
asserted to be different people into one group. The result depends only on the records and links given, never
on the order they arrived in, and the cannot-link constraints hold transitively because they are checked
between whole groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from joinedup.projections.identity.links import TIER_SCORE, Link
from joinedup.projections.identity.records import RecordKey


@dataclass(frozen=True, slots=True)
class StrongIds:
    nhs: str | None
    ni: str | None


@dataclass(slots=True)
class _Group:
    members: set[RecordKey]
    nhs: str | None
    ni: str | None
    forbidden: set[RecordKey] = field(default_factory=set)

    def refuses(self, other: _Group) -> bool:
        if self.nhs is not None and other.nhs is not None and self.nhs != other.nhs:
            return True
        if self.ni is not None and other.ni is not None and self.ni != other.ni:
            return True
        return not (self.forbidden.isdisjoint(other.members) and other.forbidden.isdisjoint(self.members))

    def absorb(self, other: _Group) -> None:
        self.members |= other.members
        self.forbidden |= other.forbidden
        self.nhs = self.nhs or other.nhs
        self.ni = self.ni or other.ni


@dataclass(frozen=True, slots=True)
class Partition:
    groups: tuple[tuple[RecordKey, ...], ...]
    """Each group's records sorted; groups ordered by their first record."""
    used: tuple[Link, ...]
    """The links that joined groups (a spanning forest), in the order they were used."""
    ambiguous: tuple[RecordKey, ...] = ()
    """Records whose scored links were set aside because they fit two persons that cannot be one."""


def _greedy(
    records: Sequence[RecordKey],
    links: Sequence[Link],
    strong_ids: Mapping[RecordKey, StrongIds],
    must_not_link: Mapping[RecordKey, Iterable[RecordKey]],
) -> tuple[dict[RecordKey, RecordKey], list[Link]]:
    root: dict[RecordKey, RecordKey] = {key: key for key in records}
    groups: dict[RecordKey, _Group] = {
        key: _Group({key}, strong_ids[key].nhs, strong_ids[key].ni, set(must_not_link.get(key, ())))
        for key in records
    }

    def find(key: RecordKey) -> RecordKey:
        while root[key] != key:
            root[key] = root[root[key]]
            key = root[key]
        return key

    used: list[Link] = []
    for link in links:
        ra, rb = find(link.a), find(link.b)
        if ra == rb or groups[ra].refuses(groups[rb]):
            continue
        size_a, size_b = len(groups[ra].members), len(groups[rb].members)
        keep, drop = (ra, rb) if size_a > size_b or (size_a == size_b and ra < rb) else (rb, ra)
        groups[keep].absorb(groups.pop(drop))
        root[drop] = keep
        used.append(link)
    return {key: find(key) for key in records}, used


def _ambiguous(
    records: Sequence[RecordKey],
    links: Sequence[Link],
    group_of: Mapping[RecordKey, RecordKey],
    margin: float,
) -> set[RecordKey]:
    """Records whose best scored link into another (refusing) group is within ``margin`` of their best
    scored link into their own group, and that no rule or assertion holds in their own group."""
    best: dict[RecordKey, dict[RecordKey, float]] = {key: {} for key in records}
    anchored: set[RecordKey] = set()
    for link in links:
        for end in (link.a, link.b):
            other = link.other(end)
            if link.tier != TIER_SCORE:
                if group_of[other] == group_of[end]:
                    anchored.add(end)
                continue
            scores = best[end]
            group = group_of[other]
            scores[group] = max(scores.get(group, link.score), link.score)
    found: set[RecordKey] = set()
    for key in records:
        own = best[key].get(group_of[key])
        if key in anchored or own is None:
            continue
        if any(score >= own - margin for group, score in best[key].items() if group != group_of[key]):
            found.add(key)
    return found


def partition_records(
    records: Sequence[RecordKey],
    links: Iterable[Link],
    strong_ids: Mapping[RecordKey, StrongIds],
    must_not_link: Mapping[RecordKey, Iterable[RecordKey]],
    ambiguity_margin: float | None = None,
) -> Partition:
    """Greedy union in link order under the cannot-link constraints.

    With ``ambiguity_margin``, a record that scores almost as well against a person it cannot join as against
    the person it joined is not attached by score at all (its scored links are set aside and the union is
    redone): such a record could belong to either, and a human should say which.
    """
    ordered = sorted(links, key=Link.order)
    set_aside: set[RecordKey] = set()
    while True:
        active = [
            link
            for link in ordered
            if link.tier != TIER_SCORE or (link.a not in set_aside and link.b not in set_aside)
        ]
        group_of, used = _greedy(records, active, strong_ids, must_not_link)
        if ambiguity_margin is None:
            break
        more = _ambiguous(records, active, group_of, ambiguity_margin) - set_aside
        if not more:
            break
        set_aside |= more
    by_root: dict[RecordKey, list[RecordKey]] = {}
    for key in sorted(records):
        by_root.setdefault(group_of[key], []).append(key)
    groups = sorted((tuple(members) for members in by_root.values()), key=lambda g: g[0])
    return Partition(tuple(groups), tuple(used), tuple(sorted(set_aside)))
