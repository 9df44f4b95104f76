"""The resolver's state behind a Protocol, and an in-memory implementation.

A durable store (SQLite, say) implements the same Protocol and commits the state together with the consumed
offsets in one transaction per input (invariant 2); the resolver itself never touches offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from joinedup.projections.identity.links import Link
from joinedup.projections.identity.normalise import Features
from joinedup.projections.identity.records import RecordKey, SourceRecord

AssertionKind = Literal["same", "different"]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    record: SourceRecord
    features: Features
    blocks: tuple[str, ...]
    seq: int
    """When the record was first seen (a position in the input stream, never a clock)."""


@dataclass(frozen=True, slots=True)
class PersonState:
    person_id: str
    created_seq: int
    members: tuple[RecordKey, ...]
    holding: tuple[Link, ...]
    """The links that hold the members together (a spanning tree), as the partition used them."""


@dataclass(frozen=True, slots=True)
class Assertion:
    kind: AssertionKind
    first: RecordKey
    second: RecordKey
    asserted_by: str
    reason: str
    assertion_id: str
    asserted_at: float
    """POSIX seconds: among conflicting assertions the latest is honoured first."""


class IdentityStore(Protocol):
    def next_sequence(self) -> int: ...

    def get_record(self, key: RecordKey) -> StoredRecord | None: ...
    def put_record(self, stored: StoredRecord) -> None: ...
    def record_keys(self) -> Iterable[RecordKey]: ...

    def block_members(self, block: str) -> Sequence[RecordKey]: ...
    def block_size(self, block: str) -> int: ...
    def add_to_block(self, block: str, key: RecordKey) -> int:
        """Add and return the block's new size."""
        ...

    def remove_from_block(self, block: str, key: RecordKey) -> int:
        """Remove and return the block's new size."""
        ...

    def links_of(self, key: RecordKey) -> Mapping[RecordKey, Link]: ...
    def put_link(self, link: Link) -> None: ...
    def remove_link(self, a: RecordKey, b: RecordKey) -> None: ...

    def person_of(self, key: RecordKey) -> str | None: ...
    def set_person_of(self, key: RecordKey, person_id: str) -> None: ...
    def get_person(self, person_id: str) -> PersonState | None: ...
    def put_person(self, person: PersonState) -> None: ...
    def delete_person(self, person_id: str) -> None: ...
    def person_ids(self) -> Iterable[str]: ...

    def alias_of(self, person_id: str) -> str | None:
        """The person an absorbed person id was merged into, if it was absorbed."""
        ...

    def put_alias(self, absorbed: str, survivor: str) -> None: ...

    def assertions_of(self, key: RecordKey) -> Mapping[RecordKey, Assertion]: ...
    def put_assertion(self, assertion: Assertion) -> None: ...

    def reviewed_score(self, a: RecordKey, b: RecordKey) -> float | None: ...
    def put_reviewed(self, a: RecordKey, b: RecordKey, score: float) -> None: ...

    def is_processed(self, input_id: str) -> bool: ...
    def mark_processed(self, input_id: str) -> None: ...


class InMemoryIdentityStore:
    """Dicts. Good for tests, benchmarks and a rebuild-from-offset-0 projection."""

    def __init__(self) -> None:
        self._sequence = 0
        self._records: dict[RecordKey, StoredRecord] = {}
        self._blocks: dict[str, dict[RecordKey, None]] = {}
        self._links: dict[RecordKey, dict[RecordKey, Link]] = {}
        self._person_of: dict[RecordKey, str] = {}
        self._persons: dict[str, PersonState] = {}
        self._aliases: dict[str, str] = {}
        self._assertions: dict[RecordKey, dict[RecordKey, Assertion]] = {}
        self._reviewed: dict[tuple[RecordKey, RecordKey], float] = {}
        self._processed: set[str] = set()

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        return self._records.get(key)

    def put_record(self, stored: StoredRecord) -> None:
        self._records[stored.features.key] = stored

    def record_keys(self) -> Iterable[RecordKey]:
        return list(self._records)

    def block_members(self, block: str) -> Sequence[RecordKey]:
        return list(self._blocks.get(block, ()))

    def block_size(self, block: str) -> int:
        return len(self._blocks.get(block, ()))

    def add_to_block(self, block: str, key: RecordKey) -> int:
        members = self._blocks.setdefault(block, {})
        members[key] = None
        return len(members)

    def remove_from_block(self, block: str, key: RecordKey) -> int:
        members = self._blocks.get(block, {})
        members.pop(key, None)
        if not members:
            self._blocks.pop(block, None)
        return len(members)

    def links_of(self, key: RecordKey) -> Mapping[RecordKey, Link]:
        return self._links.get(key, {})

    def put_link(self, link: Link) -> None:
        self._links.setdefault(link.a, {})[link.b] = link
        self._links.setdefault(link.b, {})[link.a] = link

    def remove_link(self, a: RecordKey, b: RecordKey) -> None:
        self._links.get(a, {}).pop(b, None)
        self._links.get(b, {}).pop(a, None)

    def person_of(self, key: RecordKey) -> str | None:
        return self._person_of.get(key)

    def set_person_of(self, key: RecordKey, person_id: str) -> None:
        self._person_of[key] = person_id

    def get_person(self, person_id: str) -> PersonState | None:
        return self._persons.get(person_id)

    def put_person(self, person: PersonState) -> None:
        self._persons[person.person_id] = person

    def delete_person(self, person_id: str) -> None:
        self._persons.pop(person_id, None)

    def person_ids(self) -> Iterable[str]:
        return list(self._persons)

    def alias_of(self, person_id: str) -> str | None:
        return self._aliases.get(person_id)

    def put_alias(self, absorbed: str, survivor: str) -> None:
        self._aliases[absorbed] = survivor

    def assertions_of(self, key: RecordKey) -> Mapping[RecordKey, Assertion]:
        return self._assertions.get(key, {})

    def put_assertion(self, assertion: Assertion) -> None:
        self._assertions.setdefault(assertion.first, {})[assertion.second] = assertion
        self._assertions.setdefault(assertion.second, {})[assertion.first] = assertion

    def reviewed_score(self, a: RecordKey, b: RecordKey) -> float | None:
        return self._reviewed.get((a, b) if a < b else (b, a))

    def put_reviewed(self, a: RecordKey, b: RecordKey, score: float) -> None:
        self._reviewed[(a, b) if a < b else (b, a)] = score

    def is_processed(self, input_id: str) -> bool:
        return input_id in self._processed

    def mark_processed(self, input_id: str) -> None:
        self._processed.add(input_id)
