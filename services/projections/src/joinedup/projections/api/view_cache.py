"""The person views the query API read last, kept until the person view store commits anything at all.

Assembling a view from SQLite rows costs about a millisecond of CPU per person; most reads between two commits
of the worker ask for a view that has not changed. SQLite's ``PRAGMA data_version`` (on a connection of our
own) changes whenever another connection (the worker, in another process) has committed to the file since the
last probe, so the rule is simple: probe before each read; if the version moved, forget every view kept.

Why a view served from here is never older than a fresh read would be: a view kept under version ``v`` was
read after ``v`` was probed; it is served only while the probe still says ``v``, i.e. no commit happened since
that probe. A commit landing between the probe and the read makes the kept view newer than ``v``, and the next
probe (``v'``) drops it. Absent persons are kept too (a commit that creates them moves the version).

Decisions are not kept here (nor anywhere): each request asks the consent service.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from joinedup.projections.person_view.read_model import PersonSearch, PersonView, PersonViewReader
from joinedup.projections.person_view.reader_sqlite import connect_read_only


class SqliteDataVersion:
    """``PRAGMA data_version`` of the person view file, on a read-only connection of its own (``None`` while
    the file does not exist). Used from the serving event loop's thread only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def __call__(self) -> int | None:
        if self._db is None:
            if not self.path.exists():
                return None
            self._db = connect_read_only(self.path)
        row = self._db.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()


class CachedPersonViews:
    """A :class:`PersonViewReader` that keeps up to ``capacity`` views of ``reader`` while ``version`` stays
    the same (a ``None`` version keeps nothing). Everything but ``person`` is passed through."""

    def __init__(
        self, reader: PersonViewReader, version: Callable[[], int | None], *, capacity: int = 10_000
    ) -> None:
        self._reader = reader
        self._version = version
        self._capacity = capacity
        self._kept: dict[str, PersonView | None] = {}
        self._kept_at: int | None = None
        self.hits = 0
        self.misses = 0

    def person(self, person_id: str) -> PersonView | None:
        version = self._version()
        if version is None or version != self._kept_at:
            self._kept.clear()
            self._kept_at = version
        elif person_id in self._kept:
            self.hits += 1
            return self._kept[person_id]
        self.misses += 1
        view = self._reader.person(person_id)
        if version is not None:
            if len(self._kept) >= self._capacity:
                self._kept.clear()
            self._kept[person_id] = view
        return view

    def resolve_person_id(self, person_id: str) -> str | None:
        return self._reader.resolve_person_id(person_id)

    def person_of_record(self, agency: str, local_person_id: str) -> str | None:
        return self._reader.person_of_record(agency, local_person_id)

    def find_persons(self, search: PersonSearch, limit: int = 20) -> list[str]:
        return self._reader.find_persons(search, limit)

    def find_views(self, search: PersonSearch, limit: int = 20) -> list[PersonView]:
        return self._reader.find_views(search, limit)  # one read of the store, not one per person
