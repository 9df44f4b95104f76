"""One contract, every ConsentStore backend: events, processed ids and offsets committed together."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from joinedup.consent.adapters.store_memory import InMemoryConsentStore
from joinedup.consent.adapters.store_sqlite import SqliteConsentStore
from joinedup.consent.app.ports import ConsentStore, StoreCommit
from joinedup.consent.app.testing import agreement, agreement_end, day, statement
from joinedup.consent.domain import ConsentState

TOPIC = "joinedup.consent.events"
EVENTS = (
    statement("given"),
    statement("withdrawn", version=2, effective_at=day("2026-03-01")),
    agreement(),
    agreement_end(ended_at=day("2026-06-01")),
)


@pytest.fixture(params=["memory", "sqlite"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], ConsentStore]]:
    opened: list[SqliteConsentStore] = []

    def opener() -> ConsentStore:
        if request.param == "memory":
            return InMemoryConsentStore()
        store = SqliteConsentStore(tmp_path / "consent.sqlite")
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


def test_a_new_store_is_empty(open_store: Callable[[], ConsentStore]) -> None:
    store = open_store()

    assert store.state().fingerprint() == ConsentState().fingerprint()
    assert store.offsets() == {}
    assert not store.is_processed("anything")


def test_a_commit_records_events_processed_ids_and_offsets_together(
    open_store: Callable[[], ConsentStore],
) -> None:
    store = open_store()

    store.commit(
        StoreCommit(events=EVENTS, processed_ids=tuple(e.event_id for e in EVENTS), offsets={(TOPIC, 0): 4})
    )

    assert store.state().fingerprint() == ConsentState.fold(EVENTS).fingerprint()
    assert all(store.is_processed(e.event_id) for e in EVENTS)
    assert store.offsets() == {(TOPIC, 0): 4}


def test_a_later_commit_moves_the_offset_of_its_partition_only(
    open_store: Callable[[], ConsentStore],
) -> None:
    store = open_store()
    store.commit(StoreCommit(offsets={(TOPIC, 0): 4, (TOPIC, 1): 2}))

    store.commit(StoreCommit(events=EVENTS[:1], processed_ids=(EVENTS[0].event_id,), offsets={(TOPIC, 1): 3}))

    assert store.offsets() == {(TOPIC, 0): 4, (TOPIC, 1): 3}


def test_committing_the_same_events_twice_changes_nothing(open_store: Callable[[], ConsentStore]) -> None:
    store = open_store()
    commit = StoreCommit(
        events=EVENTS, processed_ids=tuple(e.event_id for e in EVENTS), offsets={(TOPIC, 0): 4}
    )
    store.commit(commit)
    fingerprint = store.state().fingerprint()

    store.commit(commit)

    assert store.state().fingerprint() == fingerprint


def test_sqlite_state_and_offsets_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "consent.sqlite"
    store = SqliteConsentStore(path)
    store.commit(StoreCommit(events=EVENTS, processed_ids=("input-1",), offsets={(TOPIC, 2): 9}))
    fingerprint = store.state().fingerprint()
    store.close()

    reopened = SqliteConsentStore(path)
    try:
        assert reopened.state().fingerprint() == fingerprint
        assert reopened.is_processed("input-1")
        assert reopened.offsets() == {(TOPIC, 2): 9}
    finally:
        reopened.close()


def test_a_failed_sqlite_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    store = SqliteConsentStore(tmp_path / "consent.sqlite")
    try:
        with pytest.raises(sqlite3.ProgrammingError):
            store.commit(
                StoreCommit(
                    events=EVENTS,
                    processed_ids=("input-1",),
                    offsets={(TOPIC, 0): object()},  # type: ignore[dict-item]  # fails after the events are written
                )
            )

        assert store.state().fingerprint() == ConsentState().fingerprint()
        assert not store.is_processed("input-1")
        assert store.offsets() == {}
    finally:
        store.close()
