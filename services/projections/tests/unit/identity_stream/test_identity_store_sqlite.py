"""The SQLite identity store acts like the in-memory one, survives a reopen, forgets rolled-back work."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from joinedup.projections.identity.explain import export_rows
from joinedup.projections.identity.records import RecordObserved, ResolverInput, SourceRecord
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore
from joinedup.projections.identity.store_sqlite import SqliteIdentityStore

from .conftest import T0, Feed


def observations(feed: Feed) -> list[ResolverInput]:
    return [
        RecordObserved(
            record=SourceRecord(**record.model_dump()),
            source_event_id=f"event-{n}",
            observed_at=T0 + timedelta(minutes=n),
        )
        for n, record in enumerate(feed.population.stream())
    ]


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_a_resolver_over_sqlite_reopened_between_batches_emits_what_it_emits_over_memory(
    small_feed: Feed, tmp_path: Path
) -> None:
    inputs = observations(small_feed)
    expected = IdentityResolver(InMemoryIdentityStore()).resolve_all(inputs)
    memory_partition = None
    got = []
    path = tmp_path / "identity.sqlite"
    for start in range(0, len(inputs), 40):
        db = connect(path)
        store = SqliteIdentityStore(db)  # reloads everything the earlier batches committed
        resolver = IdentityResolver(store)
        db.execute("BEGIN")
        got.extend(resolver.resolve_all(inputs[start : start + 40]))
        store.flush()
        db.execute("COMMIT")
        memory_partition = export_rows(store)
        db.close()
    assert got == expected
    assert len(expected) > 0
    reopened = SqliteIdentityStore(connect(path))
    assert export_rows(reopened) == memory_partition


def test_inputs_already_processed_before_a_reopen_are_ignored_after_it(
    small_feed: Feed, tmp_path: Path
) -> None:
    inputs = observations(small_feed)[:30]
    db = connect(tmp_path / "identity.sqlite")
    store = SqliteIdentityStore(db)
    db.execute("BEGIN")
    IdentityResolver(store).resolve_all(inputs)
    store.flush()
    db.execute("COMMIT")
    again = IdentityResolver(SqliteIdentityStore(db))
    assert again.resolve_all(inputs) == []


def test_a_rolled_back_batch_leaves_no_trace_once_the_store_reloads(small_feed: Feed, tmp_path: Path) -> None:
    inputs = observations(small_feed)
    db = connect(tmp_path / "identity.sqlite")
    store = SqliteIdentityStore(db)
    resolver = IdentityResolver(store)
    db.execute("BEGIN")
    first = resolver.resolve_all(inputs[:20])
    store.flush()
    db.execute("COMMIT")
    db.execute("BEGIN")
    resolver.resolve_all(inputs[20:])
    store.flush()
    db.execute("ROLLBACK")
    store.reload()
    assert sorted(store.record_keys()) == sorted(
        {i.record.key for i in inputs[:20] if isinstance(i, RecordObserved)}
    )
    assert resolver.resolve_all(inputs[:20]) == []
    assert first


def test_restating_a_records_unchanged_person_writes_nothing(small_feed: Feed, tmp_path: Path) -> None:
    db = connect(tmp_path / "identity.sqlite")
    store = SqliteIdentityStore(db)
    db.execute("BEGIN")
    IdentityResolver(store).resolve_all(observations(small_feed)[:10])
    store.flush()
    db.execute("COMMIT")
    key = next(iter(store.record_keys()))
    person = store.person_of(key)
    assert person is not None
    before = db.total_changes
    db.execute("BEGIN")
    store.set_person_of(key, person)
    store.flush()
    db.execute("COMMIT")
    assert db.total_changes == before
    db.execute("BEGIN")
    store.set_person_of(key, "another-person")
    store.flush()
    db.execute("COMMIT")
    assert db.total_changes == before + 2  # the record's person and the flush count
    assert SqliteIdentityStore(db).person_of(key) == "another-person"
