"""The query API's person view cache: kept while the store's data version stands, dropped when it moves."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from joinedup.projections.api.view_cache import CachedPersonViews, SqliteDataVersion
from joinedup.projections.person_view.read_model import PersonSearch, PersonView, found_views


class CountingReader:
    def __init__(self, views: dict[str, PersonView]) -> None:
        self.views = views
        self.reads: list[str] = []

    def person(self, person_id: str) -> PersonView | None:
        self.reads.append(person_id)
        return self.views.get(person_id)

    def resolve_person_id(self, person_id: str) -> str | None:
        return person_id if person_id in self.views else None

    def person_of_record(self, agency: str, local_person_id: str) -> str | None:
        return None

    def find_persons(self, search: PersonSearch, limit: int = 20) -> list[str]:
        return sorted(self.views)[:limit]

    def find_views(self, search: PersonSearch, limit: int = 20) -> list[PersonView]:
        return found_views(self, search, limit)


def test_a_view_is_read_once_while_the_version_stands_and_again_once_it_moves(build: Any) -> None:
    one = build.person_one()
    reader = CountingReader({one.person_id: one})
    version = [7]
    cached = CachedPersonViews(reader, lambda: version[0])
    assert cached.person(one.person_id) == one
    assert cached.person(one.person_id) == one
    assert cached.person("nobody") is None
    assert cached.person("nobody") is None
    assert reader.reads == [one.person_id, "nobody"]
    changed = one.model_copy(update={"items": one.items[:1]})
    reader.views[one.person_id] = changed
    version[0] = 8
    assert cached.person(one.person_id) == changed
    assert reader.reads == [one.person_id, "nobody", one.person_id]
    assert (cached.hits, cached.misses) == (2, 3)


def test_nothing_is_kept_while_the_store_has_no_version(build: Any) -> None:
    one = build.person_one()
    reader = CountingReader({one.person_id: one})
    cached = CachedPersonViews(reader, lambda: None)
    cached.person(one.person_id)
    cached.person(one.person_id)
    assert reader.reads == [one.person_id, one.person_id]


def test_a_full_cache_starts_again_rather_than_growing(build: Any) -> None:
    one, two = build.person_one(), build.person_two()
    reader = CountingReader({one.person_id: one, two.person_id: two})
    cached = CachedPersonViews(reader, lambda: 1, capacity=1)
    cached.person(one.person_id)
    cached.person(two.person_id)  # drops one
    cached.person(two.person_id)
    cached.person(one.person_id)
    assert reader.reads == [one.person_id, two.person_id, one.person_id]


def test_the_data_version_moves_when_another_connection_commits_and_only_then(tmp_path: Path) -> None:
    path = tmp_path / "view.sqlite"
    version = SqliteDataVersion(path)
    assert version() is None
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.commit()
    try:
        first = version()
        assert first is not None
        assert version() == first
        writer.execute("INSERT INTO t VALUES (1)")
        writer.commit()
        assert version() != first
    finally:
        writer.close()
        version.close()
