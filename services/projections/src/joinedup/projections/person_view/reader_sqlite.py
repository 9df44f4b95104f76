"""The person view as the query API reads it: the worker's SQLite file, opened read-only.

One connection per thread (sqlite3 connections belong to the thread that made them; the query API reads on
its event loop's thread, other callers may read from others), each call one read transaction, so a call sees
one committed batch of the worker, never half of one (WAL lets readers and the writer work at once). Until the
worker has created the file and its tables the view is empty.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from joinedup.projections.person_view.read_model import PersonSearch, PersonView
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore

T = TypeVar("T")


def connect_read_only(path: Path, *, timeout_s: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to the file in autocommit mode (transactions are the caller's); used by one
    thread only, but it may be closed from another at shutdown."""
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro",
        uri=True,
        timeout=timeout_s,
        isolation_level=None,
        check_same_thread=False,
    )


class ReadOnlySqlitePersonViewReader:
    """:class:`~joinedup.projections.person_view.read_model.PersonViewReader` over the worker's file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def _store(self) -> SqlitePersonViewStore | None:
        store: SqlitePersonViewStore | None = getattr(self._local, "store", None)
        if store is not None:
            return store
        if not self.path.exists():
            return None
        connection = connect_read_only(self.path, timeout_s=30.0)
        try:
            store = SqlitePersonViewStore(connection)
        except sqlite3.OperationalError:
            # The worker has created the file but not yet its tables (a read-only connection cannot):
            # the view is still empty; try again on the next call.
            connection.close()
            return None
        self._local.store = store
        with self._lock:
            self._connections.append(connection)
        return store

    def _read(self, read: Callable[[SqlitePersonViewStore], T], empty: T) -> T:
        store = self._store()
        if store is None:
            return empty
        store.db.execute("BEGIN")
        try:
            return read(store)
        finally:
            store.db.execute("ROLLBACK")

    def person(self, person_id: str) -> PersonView | None:
        return self._read(lambda store: store.person(person_id), None)

    def resolve_person_id(self, person_id: str) -> str | None:
        return self._read(lambda store: store.resolve_person_id(person_id), None)

    def person_of_record(self, agency: str, local_person_id: str) -> str | None:
        return self._read(lambda store: store.person_of_record(agency, local_person_id), None)

    def find_persons(self, search: PersonSearch, limit: int = 20) -> list[str]:
        return self._read(lambda store: store.find_persons(search, limit), [])

    def find_views(self, search: PersonSearch, limit: int = 20) -> list[PersonView]:
        return self._read(lambda store: store.find_views(search, limit), [])

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
