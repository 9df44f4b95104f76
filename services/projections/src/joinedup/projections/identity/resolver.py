"""The streaming identity resolver: one input in, the identity events it causes out.

On each new or changed record (or human assertion) the resolver recomputes the affected component of the
link graph from scratch with a deterministic procedure (partition.py), diffs the result against the current
persons and emits the events that turn one into the other. A person is therefore a function of the records,
links and assertions only — not of the order they arrived in.

No wall clock, no randomness: event times are the inputs' times, ids are UUIDv5 of their coordinates, and
every collection a decision iterates over is sorted first.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joinedup.projections.identity.blocking import blocking_keys
from joinedup.projections.identity.events import (
    REVIEW_AMBIGUOUS_MATCH,
    REVIEW_ASSERTED_LINK_REFUSED,
    RULE_SAME_PERSON_ASSERTED,
    SPLIT_DIFFERENT_PERSONS_ASSERTED,
    SPLIT_RECORD_OBSERVED,
    SPLIT_SAME_PERSON_ASSERTED,
    AnyIdentityEvent,
    LinkEvidence,
    MatchReviewRequested,
    PersonCreated,
    PersonsMerged,
    PersonSplit,
    RecordLinked,
    RecordMove,
)
from joinedup.projections.identity.links import (
    TIER_ASSERTED,
    TIER_PENDING,
    TIER_RULE,
    TIER_SCORE,
    Link,
)
from joinedup.projections.identity.match_model import MatchModel, default_match_model
from joinedup.projections.identity.matching import (
    CORROBORATE,
    LINK,
    REVIEW,
    Comparison,
    Matcher,
    locator_agreements,
)
from joinedup.projections.identity.nicknames import Nicknames, default_nicknames
from joinedup.projections.identity.normalise import features_of
from joinedup.projections.identity.partition import Corroborator, StrongIds, partition_records
from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordKey,
    RecordObserved,
    RecordRef,
    ResolverInput,
    SamePersonAsserted,
)
from joinedup.projections.identity.rules import (
    FAMILY_NAME_OWN,
    check_assertion_names_two_records,
    check_same_person_allowed,
)
from joinedup.projections.identity.store import (
    Assertion,
    AssertionKind,
    IdentityStore,
    PersonState,
    StoredRecord,
)

PERSON_NAMESPACE = uuid.UUID("5b0f3c52-8f0e-5d7a-9a51-6a1f3e0c2d11")
EVENT_NAMESPACE = uuid.UUID("0c3e8f4a-1d2b-5e6f-8a9b-7c6d5e4f3a21")
_REFUSED = float("-inf")  # the reviewed "score" of an asserted link already sent back to a human


@dataclass(frozen=True, slots=True)
class _Cause:
    """What is being resolved: the input's id and time, and how a split it causes is explained."""

    input_id: str
    causation_id: str
    at: datetime
    reason_code: str
    asserted_by: str | None = None
    reason: str | None = None


def _ref(key: RecordKey) -> RecordRef:
    return RecordRef(agency=key.agency, local_person_id=key.local_person_id)


def _evidence(link: Link, record: RecordKey) -> LinkEvidence:
    return LinkEvidence(
        record=_ref(record),
        linked_to=_ref(link.other(record)),
        rule=link.rule,
        score=None if link.tier == TIER_ASSERTED else link.score,
        agreed_fields=link.agreed_fields,
        asserted_by=link.asserted_by,
        reason=link.reason,
    )


class IdentityResolver:
    """Resolves source records to persons over an ``IdentityStore``."""

    def __init__(
        self,
        store: IdentityStore,
        model: MatchModel | None = None,
        nicknames: Nicknames | None = None,
    ) -> None:
        self._store = store
        self._model = model or default_match_model()
        self._matcher = Matcher(self._model)
        self._nicknames = nicknames or default_nicknames()
        self._cap = self._model.blocking.max_block_size

    @property
    def model_version(self) -> str:
        return self._model.version

    @property
    def store(self) -> IdentityStore:
        return self._store

    # ------------------------------------------------------------------ inputs

    def resolve(self, message: ResolverInput) -> list[AnyIdentityEvent]:
        """Apply one input and return the identity events it causes (none for a duplicate)."""
        if isinstance(message, RecordObserved):
            return self._observe(message)
        if isinstance(message, SamePersonAsserted):
            return self._assert(message, "same")
        return self._assert(message, "different")

    def resolve_all(self, messages: Iterable[ResolverInput]) -> list[AnyIdentityEvent]:
        events: list[AnyIdentityEvent] = []
        for message in messages:
            events.extend(self.resolve(message))
        return events

    def person_of(self, key: RecordKey) -> str | None:
        return self._store.person_of(key)

    def current_person_id(self, person_id: str) -> str:
        """The live person an id stands for, following the aliases of absorbed persons."""
        seen = {person_id}
        while (target := self._store.alias_of(person_id)) is not None and target not in seen:
            seen.add(target)
            person_id = target
        return person_id

    def _observe(self, message: RecordObserved) -> list[AnyIdentityEvent]:
        store = self._store
        key = message.record.key
        input_id = f"{message.source_event_id}|{key.label()}"
        if store.is_processed(input_id):
            return []
        previous = store.get_record(key)
        record = message.record if previous is None else previous.record.updated_by(message.record)
        features = features_of(record, self._nicknames)
        if previous is not None and previous.features == features:
            store.put_record(StoredRecord(record, features, previous.blocks, previous.seq))
            store.mark_processed(input_id)
            return []
        blocks = blocking_keys(features)
        cause = _Cause(input_id, message.source_event_id, message.observed_at, SPLIT_RECORD_OBSERVED)
        dirty: set[RecordKey] = {key}
        old_blocks: tuple[str, ...] = ()
        if previous is not None:
            old_blocks = previous.blocks
            for other in sorted(store.links_of(key)):
                store.remove_link(key, other)
                dirty.add(other)
        seq = previous.seq if previous is not None else store.next_sequence()
        store.put_record(StoredRecord(record, features, blocks, seq))
        for block in sorted(set(old_blocks) - set(blocks)):
            if store.remove_from_block(block, key) == self._cap:
                dirty.update(self._block_became_usable(block))
        for block in sorted(set(blocks) - set(old_blocks)):
            if store.add_to_block(block, key) == self._cap + 1:
                # Links that counted only through this block stop counting: recompute their components.
                dirty.update(store.block_members(block))
        reviews: list[tuple[RecordKey, Comparison]] = []
        for other in self._candidates(key, blocks):
            other_record = store.get_record(other)
            if other_record is None:
                continue
            comparison = self._matcher.compare_candidate(features, other_record.features)
            if comparison is None:
                continue
            if comparison.verdict in (LINK, CORROBORATE):
                store.put_link(self._link(key, other, comparison, blocks, other_record.blocks))
                dirty.add(other)
            if comparison.verdict in (REVIEW, CORROBORATE):
                reviews.append((other, comparison))
        events = self._repartition(dirty, cause)
        events.extend(self._review_requests(key, reviews, cause))
        events.extend(self._refused_assertions([key], cause))
        store.mark_processed(input_id)
        return events

    def _assert(
        self, message: SamePersonAsserted | DifferentPersonsAsserted, kind: AssertionKind
    ) -> list[AnyIdentityEvent]:
        store = self._store
        first, second = sorted((message.first.key(), message.second.key()))
        check_assertion_names_two_records(first, second)
        first_record, second_record = store.get_record(first), store.get_record(second)
        if kind == "same":
            check_same_person_allowed(
                first_record.features if first_record else None,
                second_record.features if second_record else None,
            )
        if store.is_processed(message.assertion_id):
            return []
        store.put_assertion(
            Assertion(
                kind,
                first,
                second,
                message.asserted_by,
                message.reason,
                message.assertion_id,
                message.asserted_at.timestamp(),
            )
        )
        cause = _Cause(
            message.assertion_id,
            message.assertion_id,
            message.asserted_at,
            SPLIT_SAME_PERSON_ASSERTED if kind == "same" else SPLIT_DIFFERENT_PERSONS_ASSERTED,
            message.asserted_by,
            message.reason,
        )
        dirty = {k for k, r in ((first, first_record), (second, second_record)) if r is not None}
        events = self._repartition(dirty, cause) if dirty else []
        events.extend(self._refused_assertions(sorted(dirty), cause))
        store.mark_processed(message.assertion_id)
        return events

    # ------------------------------------------------------------------ links and blocks

    def _candidates(self, key: RecordKey, blocks: tuple[str, ...]) -> list[RecordKey]:
        found: set[RecordKey] = set()
        for block in blocks:
            if self._store.block_size(block) <= self._cap:
                found.update(self._store.block_members(block))
        found.discard(key)
        return sorted(found)

    def _link(
        self,
        a: RecordKey,
        b: RecordKey,
        comparison: Comparison,
        a_blocks: tuple[str, ...],
        b_blocks: tuple[str, ...],
    ) -> Link:
        low, high = (a, b) if a < b else (b, a)
        tier = TIER_RULE if comparison.rule is not None else TIER_SCORE
        return Link(
            a=low,
            b=high,
            tier=TIER_PENDING if comparison.verdict == CORROBORATE else tier,
            score=comparison.score,
            rule=comparison.rule,
            agreed_fields=comparison.agreed_fields,
            via=tuple(sorted(set(a_blocks) & set(b_blocks))),
        )

    def _usable(self, link: Link) -> bool:
        return any(self._store.block_size(block) <= self._cap for block in link.via)

    def _block_became_usable(self, block: str) -> set[RecordKey]:
        """A block shrank back to the cap: compare the pairs it now offers that were never compared."""
        store = self._store
        members = sorted(store.block_members(block))
        for i, a in enumerate(members):
            a_record = store.get_record(a)
            if a_record is None:
                continue
            links = store.links_of(a)
            for b in members[i + 1 :]:
                b_record = store.get_record(b)
                if b in links or b_record is None:
                    continue
                comparison = self._matcher.compare_candidate(a_record.features, b_record.features)
                if comparison is not None and comparison.verdict in (LINK, CORROBORATE):
                    store.put_link(self._link(a, b, comparison, a_record.blocks, b_record.blocks))
        return set(members)

    def _same_person_assertions(self, key: RecordKey) -> list[tuple[RecordKey, Assertion]]:
        """The "same person" assertions on ``key`` whose other record is stored, by other record."""
        return [
            (other, assertion)
            for other, assertion in sorted(self._store.assertions_of(key).items())
            if assertion.kind == "same" and self._store.get_record(other) is not None
        ]

    def _asserted_links(self, key: RecordKey) -> list[Link]:
        return [
            Link(
                a=assertion.first,
                b=assertion.second,
                tier=TIER_ASSERTED,
                score=assertion.asserted_at,
                rule=RULE_SAME_PERSON_ASSERTED,
                agreed_fields=(),
                via=(),
                asserted_by=assertion.asserted_by,
                reason=assertion.reason,
            )
            for _, assertion in self._same_person_assertions(key)
        ]

    def _component(
        self, seeds: set[RecordKey]
    ) -> tuple[list[RecordKey], dict[tuple[RecordKey, RecordKey], Link]]:
        """Every record reachable from the seeds through usable links, assertions and current persons; and
        the usable links among them, by pair."""
        store = self._store
        seen = set(seeds)
        stack = sorted(seeds)
        usable: dict[tuple[RecordKey, RecordKey], Link] = {}
        while stack:
            key = stack.pop()
            neighbours: list[RecordKey] = []
            for other, link in store.links_of(key).items():
                if self._usable(link):
                    neighbours.append(other)
                    usable[link.pair] = link
            neighbours.extend(other for other, _ in self._same_person_assertions(key))
            person_id = store.person_of(key)
            person = store.get_person(person_id) if person_id is not None else None
            if person is not None:
                neighbours.extend(person.members)
            for other in neighbours:
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        return sorted(seen), usable

    # ------------------------------------------------------------------ repartition and diff

    def _repartition(self, seeds: set[RecordKey], cause: _Cause) -> list[AnyIdentityEvent]:
        store = self._store
        # The walk saw every usable link of every member, and each joins two members.
        component, links = self._component(seeds)
        inside = set(component)
        strong: dict[RecordKey, StrongIds] = {}
        must_not: dict[RecordKey, list[RecordKey]] = {}
        seq: dict[RecordKey, int] = {}
        for key in component:
            stored = store.get_record(key)
            if stored is None:  # pragma: no cover - every key in a component is a stored record
                raise LookupError(f"record {key.label()} is linked but not stored")
            strong[key] = StrongIds(stored.features.nhs, stored.features.ni)
            seq[key] = stored.seq
            for link in self._asserted_links(key):
                links[link.pair] = link
            must_not[key] = sorted(
                other
                for other, assertion in store.assertions_of(key).items()
                if assertion.kind == "different" and other in inside
            )
        result = partition_records(
            component,
            list(links.values()),
            strong,
            must_not,
            self._model.thresholds.ambiguity_margin,
            self._corroborator(),
            self._household_veto,
        )
        groups = result.groups
        group_of = {key: index for index, group in enumerate(groups) for key in group}

        old: dict[RecordKey, str | None] = {key: store.person_of(key) for key in component}
        old_persons = sorted(
            (p for p in (store.get_person(pid) for pid in set(filter(None, old.values()))) if p is not None),
            key=lambda p: (p.created_seq, p.person_id),
        )
        owner: list[str | None] = [None] * len(groups)
        home_of: dict[str, int] = {}
        absorbed_into: dict[str, int] = {}
        for person in old_persons:
            counts = Counter(group_of[m] for m in person.members)
            home = min(
                counts,
                key=lambda g: (-counts[g], min(seq[m] for m in person.members if group_of[m] == g)),
            )
            home_of[person.person_id] = home
            if owner[home] is None:
                owner[home] = person.person_id
            else:
                absorbed_into[person.person_id] = home

        events: list[AnyIdentityEvent] = []
        created: dict[int, RecordKey] = {}
        for index, group in enumerate(groups):
            if owner[index] is None:
                founder = min(group, key=lambda k: seq[k])
                owner[index] = self._new_person_id(founder)
                created[index] = founder
        person_ids = [pid for pid in owner if pid is not None]
        if len(person_ids) != len(groups):  # pragma: no cover - every group was given an owner above
            raise RuntimeError("a group was left without a person")
        new: dict[RecordKey, str] = {key: person_ids[group_of[key]] for key in component}

        for index, founder in created.items():
            pid = person_ids[index]
            events.append(
                PersonCreated(
                    **self._envelope("PersonCreated", cause, pid),
                    person_id=pid,
                    record=_ref(founder),
                )
            )
        for person in old_persons:
            moves = tuple(
                RecordMove(record=_ref(m), to_person_id=new[m])
                for m in person.members
                if group_of[m] != home_of[person.person_id]
            )
            if moves:
                events.append(
                    PersonSplit(
                        **self._envelope("PersonSplit", cause, person.person_id, *(m.record for m in moves)),
                        person_id=person.person_id,
                        moves=moves,
                        reason_code=cause.reason_code,
                        asserted_by=cause.asserted_by,
                        reason=cause.reason,
                    )
                )
        for index in range(len(groups)):
            absorbed = tuple(p.person_id for p in old_persons if absorbed_into.get(p.person_id) == index)
            if not absorbed:
                continue
            bridges = tuple(
                _evidence(link, link.a)
                for link in result.used
                if group_of[link.a] == index and (old[link.a] is None or old[link.a] != old[link.b])
            )
            events.append(
                PersonsMerged(
                    **self._envelope("PersonsMerged", cause, person_ids[index], *absorbed),
                    person_id=person_ids[index],
                    absorbed_person_ids=absorbed,
                    bridging_links=bridges,
                    asserted_by=cause.asserted_by,
                    reason=cause.reason,
                )
            )
        founders = set(created.values())
        for key in component:
            previous = old[key]
            if new[key] == previous or key in founders:
                continue
            if previous is not None and absorbed_into.get(previous) == group_of[key]:
                continue
            holding = next((link for link in result.used if key in link.pair), None)
            if holding is None:  # pragma: no cover - a non-founder always has a link in its group
                continue
            events.append(
                RecordLinked(
                    **self._envelope("RecordLinked", cause, new[key], _ref(key)),
                    person_id=new[key],
                    record=_ref(key),
                    evidence=_evidence(holding, key),
                )
            )

        self._save(groups, result.used, group_of, person_ids, old_persons, absorbed_into, created)
        events.extend(self._ambiguity_reviews(result.ambiguous, links, cause))
        return events

    def _corroborator(self) -> Corroborator:
        """Person-level evidence: the locators a record shares with another person's records, each with the
        record that holds it (shown as ``phone:agree@agency/local-id``)."""
        store = self._store
        line = self._model.strings.address_line_similarity

        def corroborate(key: RecordKey, others: Sequence[RecordKey]) -> tuple[tuple[str, RecordKey], ...]:
            mine = store.get_record(key)
            if mine is None:  # pragma: no cover - every key in a component is a stored record
                return ()
            found: list[tuple[str, RecordKey]] = []
            for other in others:
                theirs = store.get_record(other)
                if other == key or theirs is None:
                    continue
                found.extend(
                    (field, other) for field in locator_agreements(mine.features, theirs.features, line)
                )
            return tuple(found)

        return corroborate

    def _household_veto(self, link: Link, first: Sequence[RecordKey], second: Sequence[RecordKey]) -> bool:
        """A scored link on which the surnames do not agree does not join two persons when a record of one
        and a record of the other have one surname and two different first names: that is a household
        (twins both written surname first agree on the "first name" and on nothing that tells them apart)."""
        if link.surname_agrees:
            return False
        store = self._store
        second_records = [store.get_record(b) for b in second]
        for a in first:
            a_record = store.get_record(a)
            for b_record in second_records:
                if a_record is None or b_record is None:  # pragma: no cover - components hold stored records
                    continue
                levels = dict(self._matcher.compare(a_record.features, b_record.features).levels)
                if levels.get("given_name") == "disagree" and levels.get("family_name") in FAMILY_NAME_OWN:
                    return True
        return False

    def _save(
        self,
        groups: tuple[tuple[RecordKey, ...], ...],
        used: tuple[Link, ...],
        group_of: dict[RecordKey, int],
        person_ids: list[str],
        old_persons: list[PersonState],
        absorbed_into: dict[str, int],
        created: dict[int, RecordKey],
    ) -> None:
        store = self._store
        created_seq = {p.person_id: p.created_seq for p in old_persons}
        for person in old_persons:
            if person.person_id in absorbed_into:
                store.delete_person(person.person_id)
                store.put_alias(person.person_id, person_ids[absorbed_into[person.person_id]])
        for index, group in enumerate(groups):
            pid = person_ids[index]
            seq = store.next_sequence() if index in created else created_seq[pid]
            holding = tuple(link for link in used if group_of[link.a] == index)
            store.put_person(PersonState(pid, seq, group, holding))
            for key in group:
                store.set_person_of(key, pid)

    def _new_person_id(self, founder: RecordKey) -> str:
        base = f"{founder.agency}/{founder.local_person_id}"
        name, attempt = base, 1
        while True:
            candidate = str(uuid.uuid5(PERSON_NAMESPACE, name))
            if self._store.get_person(candidate) is None and self._store.alias_of(candidate) is None:
                return candidate
            attempt += 1
            name = f"{base}#{attempt}"

    def _envelope(self, event_type: str, cause: _Cause, *coordinates: object) -> dict[str, Any]:
        """The fields every identity event carries; the id is a UUIDv5 of the event's coordinates."""
        parts = [event_type, cause.input_id, *(self._coordinate(c) for c in coordinates)]
        return {
            "event_id": str(uuid.uuid5(EVENT_NAMESPACE, "|".join(parts))),
            "occurred_at": cause.at,
            "causation_id": cause.causation_id,
            "model_version": self._model.version,
        }

    @staticmethod
    def _coordinate(value: object) -> str:
        if isinstance(value, RecordRef):
            return f"{value.agency}/{value.local_person_id}"
        return str(value)

    # ------------------------------------------------------------------ reviews

    def _review_requests(
        self, key: RecordKey, reviews: list[tuple[RecordKey, Comparison]], cause: _Cause
    ) -> list[AnyIdentityEvent]:
        store = self._store
        events: list[AnyIdentityEvent] = []
        for other, comparison in reviews:
            person, other_person = store.person_of(key), store.person_of(other)
            if person == other_person or other in store.assertions_of(key):
                continue
            if store.reviewed_score(key, other) == comparison.score:
                continue
            store.put_reviewed(key, other, comparison.score)
            events.append(
                MatchReviewRequested(
                    **self._envelope("MatchReviewRequested", cause, _ref(key), _ref(other)),
                    record=_ref(key),
                    candidate=_ref(other),
                    person_id=person,
                    candidate_person_id=other_person,
                    score=comparison.score,
                    reason_code=comparison.review_reason or "grey-band",
                    agreed_fields=comparison.agreed_fields,
                    disagreed_fields=comparison.disagreed_fields,
                )
            )
        return events

    def _ambiguity_reviews(
        self,
        ambiguous: tuple[RecordKey, ...],
        links: dict[tuple[RecordKey, RecordKey], Link],
        cause: _Cause,
    ) -> list[AnyIdentityEvent]:
        """For a record that fits two persons equally well: its best scored link into each other person."""
        store = self._store
        events: list[AnyIdentityEvent] = []
        for key in ambiguous:
            best: dict[str, Link] = {}
            for link in sorted((link for link in links.values() if key in link.pair), key=Link.order):
                person = store.person_of(link.other(key))
                if link.tier == TIER_SCORE and person is not None and person not in best:
                    best[person] = link
            for person, link in best.items():
                other = link.other(key)
                if store.person_of(key) == person or store.reviewed_score(key, other) == link.score:
                    continue
                store.put_reviewed(key, other, link.score)
                events.append(
                    MatchReviewRequested(
                        **self._envelope("MatchReviewRequested", cause, _ref(key), _ref(other)),
                        record=_ref(key),
                        candidate=_ref(other),
                        person_id=store.person_of(key),
                        candidate_person_id=person,
                        score=link.score,
                        reason_code=REVIEW_AMBIGUOUS_MATCH,
                        agreed_fields=link.agreed_fields,
                        disagreed_fields=(),
                    )
                )
        return events

    def _refused_assertions(self, keys: list[RecordKey], cause: _Cause) -> list[AnyIdentityEvent]:
        """A "same person" assertion that cannot be honoured (another, later assertion or the identifiers
        forbid it) goes back to a human."""
        store = self._store
        events: list[AnyIdentityEvent] = []
        for key in keys:
            for link in self._asserted_links(key):
                first, second = link.pair
                person, other_person = store.person_of(first), store.person_of(second)
                if person == other_person or store.reviewed_score(first, second) == _REFUSED:
                    continue
                store.put_reviewed(first, second, _REFUSED)
                events.append(
                    MatchReviewRequested(
                        **self._envelope("MatchReviewRequested", cause, _ref(first), _ref(second)),
                        record=_ref(first),
                        candidate=_ref(second),
                        person_id=person,
                        candidate_person_id=other_person,
                        score=None,
                        reason_code=REVIEW_ASSERTED_LINK_REFUSED,
                        agreed_fields=(),
                        disagreed_fields=(),
                    )
                )
        return events
