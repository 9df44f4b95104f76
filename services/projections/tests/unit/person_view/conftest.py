"""Every person view test runs against both stores (memory and SQLite): one behaviour, two backends."""

from __future__ import annotations

import sqlite3

import pytest

from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import MemoryPersonViewStore, PersonViewStore
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore


def new_store(kind: str) -> PersonViewStore:
    if kind == "memory":
        return MemoryPersonViewStore()
    return SqlitePersonViewStore(sqlite3.connect(":memory:", isolation_level=None))


@pytest.fixture(params=["memory", "sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(store_kind: str) -> PersonViewStore:
    return new_store(store_kind)


@pytest.fixture
def projector(store: PersonViewStore) -> PersonViewProjector:
    return PersonViewProjector(store)
