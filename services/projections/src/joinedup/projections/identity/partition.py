"""The deterministic partition of one component of the link graph.

Links are tried in a fixed order (asserted, rule, score descending, then record keys) and each joins two
groups unless that would put two different valid NHS numbers, two different valid NI numbers, or two records
asserted to be different people into one group. The result depends only on the records and links given, never
on the order they arrived in, and the cannot-link constraints hold transitively because they are checked
between whole groups.

Person-level evidence: a pending link (a pair whose score links but that nothing places at one person: see
matching.CORROBORATE) joins its two groups only when one record of the pair shares a locator (address,
phone, e-mail, a near identifier) with a record of the other's group. That is a fix-point: each round
redoes the union from scratch with the corroborated links found so far, tried after all other links and
in the round they were found in. A corroborated link that joined its groups while none of the records that
corroborated it ended in the person (set aside as ambiguous, or refused by a later link) is withdrawn for
good. Each pending link is found at most once and withdrawn at most once, so the rounds end, and the result
is still a function of the records and links alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace

from joinedup.projections.identity.events import RULE_PERSON_EVIDENCE
from joinedup.projections.identity.links import SCORED_TIERS, TIER_PENDING, TIER_PERSON, Link
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


Corroborator = Callable[[RecordKey, Sequence[RecordKey]], tuple[tuple[str, RecordKey], ...]]
"""(record, the other group's records) -> the locator agreements found, each as (field and level, the other
record that agrees: ``("phone:agree", key)``); () if none."""
Veto = Callable[[Link, Sequence[RecordKey], Sequence[RecordKey]], bool]
"""(scored link, one group's records, the other's) -> True when the groups read as two people."""


def _greedy(
    records: Sequence[RecordKey],
    links: Sequence[Link],
    strong_ids: Mapping[RecordKey, StrongIds],
    must_not_link: Mapping[RecordKey, Iterable[RecordKey]],
    veto: Veto | None = None,
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
        if (
            veto is not None
            and link.tier in SCORED_TIERS
            and veto(link, sorted(groups[ra].members), sorted(groups[rb].members))
        ):
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
            if link.tier not in SCORED_TIERS:
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


def _union_order(link: Link) -> tuple[int, bool, float, RecordKey, RecordKey]:
    """``Link.order``, except that within a scored tier the links on which the surnames do not agree come
    last: by then each side has gathered its other records, so a veto sees whole persons."""
    return (link.tier, link.tier in SCORED_TIERS and not link.surname_agrees, -link.score, link.a, link.b)


def partition_records(
    records: Sequence[RecordKey],
    links: Iterable[Link],
    strong_ids: Mapping[RecordKey, StrongIds],
    must_not_link: Mapping[RecordKey, Iterable[RecordKey]],
    ambiguity_margin: float | None = None,
    corroborate: Corroborator | None = None,
    veto: Veto | None = None,
) -> Partition:
    """Greedy union in link order under the cannot-link constraints, then person-level evidence for the
    pending links (tier ``TIER_PENDING``) until no more are corroborated, withdrawing for good any that
    joined without one of the records that corroborated it beside it (see the module docstring).

    With ``ambiguity_margin``, a record that scores almost as well against a person it cannot join as against
    the person it joined is not attached by score at all (its scored links are set aside and the union is
    redone): such a record could belong to either, and a human should say which. With ``veto``, a scored
    link does not join two groups the veto reads as two people (a household: see resolver._household_veto).
    """
    given = sorted(links, key=_union_order)
    if not given:
        # Nothing joins anything (a record seen for the first time and matching no one): one group each.
        return Partition(tuple((key,) for key in sorted(records)), ())
    pending = [link for link in given if link.tier == TIER_PENDING]
    ordered = [link for link in given if link.tier != TIER_PENDING]
    corroborators: dict[tuple[RecordKey, RecordKey], frozenset[RecordKey]] = {}
    withdrawn: set[tuple[RecordKey, RecordKey]] = set()
    while True:
        result = _partition(records, ordered, strong_ids, must_not_link, ambiguity_margin, veto)
        if corroborate is None or not pending:
            return result
        group_of = {key: index for index, group in enumerate(result.groups) for key in group}
        # A person-level link that joined, while every record that corroborated it ended elsewhere.
        unsupported = {
            link.pair
            for link in result.used
            if link.tier == TIER_PERSON
            and all(group_of[key] != group_of[link.a] for key in corroborators[link.pair])
        }
        if unsupported:
            withdrawn |= unsupported
            ordered = [link for link in ordered if link.pair not in unsupported]
            continue
        found = _corroborated(result, group_of, pending, corroborators.keys() | withdrawn, corroborate)
        if not found:
            return result
        corroborators.update((link.pair, by) for link, by in found)
        # A round's links go after every earlier round's: when one is tried, the groups it was corroborated
        # against have formed again (the same links before it, in the same order), so a record that
        # corroborated it is on the other side; sorted in among them, it could join first and leave that
        # record, refused later, in another person.
        ordered = [*ordered, *sorted((link for link, _ in found), key=_union_order)]


def _corroborated(
    result: Partition,
    group_of: Mapping[RecordKey, int],
    pending: Sequence[Link],
    skip: Set[tuple[RecordKey, RecordKey]],
    corroborate: Corroborator,
) -> list[tuple[Link, frozenset[RecordKey]]]:
    """The pending links across two groups that a record of the pair and the other group corroborate (not
    those in ``skip``), as person-level links with the records that corroborated them."""
    found: list[tuple[Link, frozenset[RecordKey]]] = []
    for link in pending:
        if link.pair in skip or group_of[link.a] == group_of[link.b]:
            continue
        if link.a in result.ambiguous or link.b in result.ambiguous:
            continue
        evidence = corroborate(link.a, result.groups[group_of[link.b]]) + corroborate(
            link.b, result.groups[group_of[link.a]]
        )
        if evidence:
            person_level = replace(
                link,
                tier=TIER_PERSON,
                rule=RULE_PERSON_EVIDENCE,
                agreed_fields=(
                    *link.agreed_fields,
                    *(f"{field}@{key.agency}/{key.local_person_id}" for field, key in evidence),
                ),
            )
            found.append((person_level, frozenset(key for _, key in evidence)))
    return found


def _partition(
    records: Sequence[RecordKey],
    ordered: Sequence[Link],
    strong_ids: Mapping[RecordKey, StrongIds],
    must_not_link: Mapping[RecordKey, Iterable[RecordKey]],
    ambiguity_margin: float | None,
    veto: Veto | None,
) -> Partition:
    set_aside: set[RecordKey] = set()
    while True:
        active = [
            link
            for link in ordered
            if link.tier not in SCORED_TIERS or (link.a not in set_aside and link.b not in set_aside)
        ]
        group_of, used = _greedy(records, active, strong_ids, must_not_link, veto)
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
