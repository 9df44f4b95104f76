"""The resolver's state in SQLite, in the same file and transaction as the consumed offsets and the outbox.

Reads come from memory (an :class:`InMemoryIdentityStore` loaded from the file at start); every change is
applied to memory and remembered as dirty, and :meth:`SqliteIdentityStore.flush` writes the dirty rows into
the open batch transaction (the stream runtime commits them with the offsets and the outbox: invariant 2).
Features and blocking keys are not stored: they are recomputed from the stored records on load (a pure
function of the record and the matching model).

After a failed batch (the transaction rolled back) call :meth:`reload`: memory may hold changes the file
does not.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from joinedup.projections.identity.blocking import blocking_keys
from joinedup.projections.identity.links import Link
from joinedup.projections.identity.nicknames import Nicknames, default_nicknames
from joinedup.projections.identity.normalise import features_of
from joinedup.projections.identity.records import RecordKey, SourceRecord
from joinedup.projections.identity.store import Assertion, InMemoryIdentityStore, PersonState, StoredRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS identity_records (
    agency TEXT NOT NULL, local_person_id TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (agency, local_person_id)
);
CREATE TABLE IF NOT EXISTS identity_links (
    a TEXT NOT NULL, b TEXT NOT NULL, link TEXT NOT NULL, PRIMARY KEY (a, b)
);
CREATE TABLE IF NOT EXISTS identity_person_of (record TEXT PRIMARY KEY, person_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identity_persons (person_id TEXT PRIMARY KEY, person TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identity_aliases (absorbed TEXT PRIMARY KEY, survivor TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identity_assertions (
    first TEXT NOT NULL, second TEXT NOT NULL, assertion TEXT NOT NULL, PRIMARY KEY (first, second)
);
CREATE TABLE IF NOT EXISTS identity_reviewed (
    a TEXT NOT NULL, b TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY (a, b)
);
CREATE TABLE IF NOT EXISTS identity_processed (input_id TEXT PRIMARY KEY);
"""

Pair = tuple[RecordKey, RecordKey]


def _label(key: RecordKey) -> str:
    return json.dumps([key.agency, key.local_person_id])


def _key(text: str) -> RecordKey:
    agency, local_id = json.loads(text)
    return RecordKey(str(agency), str(local_id))


_sorted_json = json.JSONEncoder(sort_keys=True).encode
"""``json.dumps(..., sort_keys=True)`` without building an encoder per call (the flush runs per batch)."""


def _link_data(link: Link) -> dict[str, Any]:
    return {
        "a": list(link.a),
        "b": list(link.b),
        "tier": link.tier,
        "score": link.score,
        "rule": link.rule,
        "agreed_fields": list(link.agreed_fields),
        "via": list(link.via),
        "asserted_by": link.asserted_by,
        "reason": link.reason,
    }


def _link_json(link: Link) -> str:
    return _sorted_json(_link_data(link))


def _link_of(data: Mapping[str, Any]) -> Link:
    return Link(
        a=RecordKey(*data["a"]),
        b=RecordKey(*data["b"]),
        tier=int(data["tier"]),
        score=float(data["score"]),
        rule=data["rule"],
        agreed_fields=tuple(data["agreed_fields"]),
        via=tuple(data["via"]),
        asserted_by=data["asserted_by"],
        reason=data["reason"],
    )


def _person_json(person: PersonState) -> str:
    return _sorted_json(
        {
            "created_seq": person.created_seq,
            "members": [list(m) for m in person.members],
            "holding": [_link_data(link) for link in person.holding],
        }
    )


def _person_of(person_id: str, text: str) -> PersonState:
    data = json.loads(text)
    return PersonState(
        person_id=person_id,
        created_seq=int(data["created_seq"]),
        members=tuple(RecordKey(*m) for m in data["members"]),
        holding=tuple(_link_of(link) for link in data["holding"]),
    )


def _assertion_json(assertion: Assertion) -> str:
    return _sorted_json(
        {
            "kind": assertion.kind,
            "first": list(assertion.first),
            "second": list(assertion.second),
            "asserted_by": assertion.asserted_by,
            "reason": assertion.reason,
            "assertion_id": assertion.assertion_id,
            "asserted_at": assertion.asserted_at,
        }
    )


def _assertion_of(text: str) -> Assertion:
    data = json.loads(text)
    return Assertion(
        kind="same" if data["kind"] == "same" else "different",
        first=RecordKey(*data["first"]),
        second=RecordKey(*data["second"]),
        asserted_by=str(data["asserted_by"]),
        reason=str(data["reason"]),
        assertion_id=str(data["assertion_id"]),
        asserted_at=float(data["asserted_at"]),
    )


def _write(db: sqlite3.Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``executemany`` unless there is nothing to write (most of a batch's tables are untouched)."""
    if rows:
        db.executemany(statement, rows)


def _ordered(a: RecordKey, b: RecordKey) -> Pair:
    return (a, b) if a < b else (b, a)


class SqliteIdentityStore:
    """An ``IdentityStore`` over a SQLite connection the caller owns (and commits)."""

    def __init__(
        self, db: sqlite3.Connection, nicknames: Nicknames | None = None, *, create: bool = True
    ) -> None:
        self._db = db
        self._nicknames = nicknames or default_nicknames()
        self._memory = InMemoryIdentityStore()
        self._sequence = 0
        self._records: set[RecordKey] = set()
        self._links: set[Pair] = set()
        self._person_of: set[RecordKey] = set()
        self._persons: set[str] = set()
        self._aliases: set[str] = set()
        self._assertions: set[Pair] = set()
        self._reviewed: set[Pair] = set()
        self._processed: list[str] = []
        self._sequence_dirty = False
        self._flushes = 0
        """How many flushes the memory reflects; the file counts its own (``identity_meta``), so a flush
        whose transaction or savepoint was rolled back shows (:meth:`out_of_step`)."""
        if create:  # a read-only reader (the CLI) passes create=False
            if db.in_transaction:
                raise RuntimeError("open the identity store outside a transaction (it creates its tables)")
            db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
        self.reload()

    # ------------------------------------------------------------------ load and flush

    def reload(self) -> None:
        """Forget memory and unflushed changes; load everything from the file."""
        self._memory = memory = InMemoryIdentityStore()
        self._forget_changes()
        db = self._db
        row = db.execute("SELECT value FROM identity_meta WHERE name = 'sequence'").fetchone()
        self._sequence = int(row[0]) if row else 0
        self._flushes = self._flushes_in_file()
        for text, seq in db.execute("SELECT record, seq FROM identity_records ORDER BY seq"):
            record = SourceRecord.model_validate_json(text)
            features = features_of(record, self._nicknames)
            blocks = blocking_keys(features)
            memory.put_record(StoredRecord(record, features, blocks, int(seq)))
            for block in blocks:
                memory.add_to_block(block, record.key)
        for (text,) in db.execute("SELECT link FROM identity_links ORDER BY a, b"):
            memory.put_link(_link_of(json.loads(text)))
        for record, person_id in db.execute(
            "SELECT record, person_id FROM identity_person_of ORDER BY record"
        ):
            memory.set_person_of(_key(record), str(person_id))
        for person_id, text in db.execute(
            "SELECT person_id, person FROM identity_persons ORDER BY person_id"
        ):
            memory.put_person(_person_of(str(person_id), text))
        for absorbed, survivor in db.execute(
            "SELECT absorbed, survivor FROM identity_aliases ORDER BY absorbed"
        ):
            memory.put_alias(str(absorbed), str(survivor))
        for (text,) in db.execute("SELECT assertion FROM identity_assertions ORDER BY first, second"):
            memory.put_assertion(_assertion_of(text))
        for a, b, score in db.execute("SELECT a, b, score FROM identity_reviewed ORDER BY a, b"):
            memory.put_reviewed(_key(a), _key(b), float(score))
        for (input_id,) in db.execute("SELECT input_id FROM identity_processed"):
            memory.mark_processed(str(input_id))

    def out_of_step(self) -> bool:
        """Whether memory holds what the file does not: changes not flushed (a call that failed midway), or
        a flush that the caller's transaction or savepoint has since rolled back (say, an output of the
        batch did not encode). Then :meth:`reload` before going on, or those changes are lost from the
        file while memory takes them as kept."""
        return self._has_changes() or self._flushes_in_file() != self._flushes

    def _flushes_in_file(self) -> int:
        row = self._db.execute("SELECT value FROM identity_meta WHERE name = 'flushes'").fetchone()
        return int(row[0]) if row else 0

    def _changed(self) -> tuple[set[Any], ...]:
        """The keys changed since the last flush, one set per table (the processed inputs apart)."""
        return (
            self._records,
            self._links,
            self._person_of,
            self._persons,
            self._aliases,
            self._assertions,
            self._reviewed,
        )

    def _has_changes(self) -> bool:
        return self._sequence_dirty or bool(self._processed) or any(self._changed())

    def flush(self) -> None:
        """Write every change since the last flush into the caller's open transaction."""
        if not self._has_changes():
            return
        db, memory = self._db, self._memory
        self._flushes += 1
        db.execute(
            "INSERT INTO identity_meta (name, value) VALUES ('flushes', ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (self._flushes,),
        )
        if self._sequence_dirty:
            db.execute(
                "INSERT INTO identity_meta (name, value) VALUES ('sequence', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (self._sequence,),
            )
        rows: list[tuple[Any, ...]] = []
        for key in sorted(self._records):
            stored = memory.get_record(key)
            if stored is not None:
                rows.append((key.agency, key.local_person_id, stored.seq, stored.record.model_dump_json()))
        _write(
            db,
            "INSERT OR REPLACE INTO identity_records (agency, local_person_id, seq, record) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )
        upserts: list[tuple[str, str, str]] = []
        deletes: list[tuple[str, str]] = []
        for a, b in sorted(self._links):
            link = memory.links_of(a).get(b)
            if link is None:
                deletes.append((_label(a), _label(b)))
            else:
                upserts.append((_label(a), _label(b), _link_json(link)))
        _write(db, "DELETE FROM identity_links WHERE a = ? AND b = ?", deletes)
        _write(db, "INSERT OR REPLACE INTO identity_links (a, b, link) VALUES (?, ?, ?)", upserts)
        _write(
            db,
            "INSERT OR REPLACE INTO identity_person_of (record, person_id) VALUES (?, ?)",
            [(_label(k), memory.person_of(k)) for k in sorted(self._person_of)],
        )
        persons = [(pid, memory.get_person(pid)) for pid in sorted(self._persons)]
        _write(
            db,
            "DELETE FROM identity_persons WHERE person_id = ?",
            [(pid,) for pid, p in persons if p is None],
        )
        _write(
            db,
            "INSERT OR REPLACE INTO identity_persons (person_id, person) VALUES (?, ?)",
            [(pid, _person_json(p)) for pid, p in persons if p is not None],
        )
        _write(
            db,
            "INSERT OR REPLACE INTO identity_aliases (absorbed, survivor) VALUES (?, ?)",
            [(pid, memory.alias_of(pid)) for pid in sorted(self._aliases)],
        )
        assertions: list[tuple[str, str, str]] = []
        for a, b in sorted(self._assertions):
            assertion = memory.assertions_of(a).get(b)
            if assertion is not None:
                assertions.append((_label(a), _label(b), _assertion_json(assertion)))
        _write(
            db,
            "INSERT OR REPLACE INTO identity_assertions (first, second, assertion) VALUES (?, ?, ?)",
            assertions,
        )
        _write(
            db,
            "INSERT OR REPLACE INTO identity_reviewed (a, b, score) VALUES (?, ?, ?)",
            [(_label(a), _label(b), memory.reviewed_score(a, b)) for a, b in sorted(self._reviewed)],
        )
        _write(
            db,
            "INSERT OR IGNORE INTO identity_processed (input_id) VALUES (?)",
            [(i,) for i in self._processed],
        )
        self._forget_changes()

    def _forget_changes(self) -> None:
        """Nothing is dirty any more (flushed, or memory reloaded from the file)."""
        for dirty in self._changed():
            dirty.clear()
        self._processed.clear()
        self._sequence_dirty = False

    # ------------------------------------------------------------------ IdentityStore

    def next_sequence(self) -> int:
        self._sequence += 1
        self._sequence_dirty = True
        return self._sequence

    def get_record(self, key: RecordKey) -> StoredRecord | None:
        return self._memory.get_record(key)

    def put_record(self, stored: StoredRecord) -> None:
        self._memory.put_record(stored)
        self._records.add(stored.features.key)

    def record_keys(self) -> Iterable[RecordKey]:
        return self._memory.record_keys()

    def block_members(self, block: str) -> Sequence[RecordKey]:
        return self._memory.block_members(block)

    def block_size(self, block: str) -> int:
        return self._memory.block_size(block)

    def add_to_block(self, block: str, key: RecordKey) -> int:
        return self._memory.add_to_block(block, key)

    def remove_from_block(self, block: str, key: RecordKey) -> int:
        return self._memory.remove_from_block(block, key)

    def links_of(self, key: RecordKey) -> Mapping[RecordKey, Link]:
        return self._memory.links_of(key)

    def put_link(self, link: Link) -> None:
        self._memory.put_link(link)
        self._links.add(_ordered(link.a, link.b))

    def remove_link(self, a: RecordKey, b: RecordKey) -> None:
        self._memory.remove_link(a, b)
        self._links.add(_ordered(a, b))

    def person_of(self, key: RecordKey) -> str | None:
        return self._memory.person_of(key)

    def set_person_of(self, key: RecordKey, person_id: str) -> None:
        if self._memory.person_of(key) == person_id:
            return  # a repartition restates every member's person: half are unchanged, nothing to write
        self._memory.set_person_of(key, person_id)
        self._person_of.add(key)

    def get_person(self, person_id: str) -> PersonState | None:
        return self._memory.get_person(person_id)

    def put_person(self, person: PersonState) -> None:
        self._memory.put_person(person)
        self._persons.add(person.person_id)

    def delete_person(self, person_id: str) -> None:
        self._memory.delete_person(person_id)
        self._persons.add(person_id)

    def person_ids(self) -> Iterable[str]:
        return self._memory.person_ids()

    def alias_of(self, person_id: str) -> str | None:
        return self._memory.alias_of(person_id)

    def put_alias(self, absorbed: str, survivor: str) -> None:
        self._memory.put_alias(absorbed, survivor)
        self._aliases.add(absorbed)

    def assertions_of(self, key: RecordKey) -> Mapping[RecordKey, Assertion]:
        return self._memory.assertions_of(key)

    def put_assertion(self, assertion: Assertion) -> None:
        self._memory.put_assertion(assertion)
        self._assertions.add(_ordered(assertion.first, assertion.second))

    def reviewed_score(self, a: RecordKey, b: RecordKey) -> float | None:
        return self._memory.reviewed_score(a, b)

    def put_reviewed(self, a: RecordKey, b: RecordKey, score: float) -> None:
        self._memory.put_reviewed(a, b, score)
        self._reviewed.add(_ordered(a, b))

    def is_processed(self, input_id: str) -> bool:
        return self._memory.is_processed(input_id)

    def mark_processed(self, input_id: str) -> None:
        if not self._memory.is_processed(input_id):
            self._memory.mark_processed(input_id)
            self._processed.append(input_id)
