"""Factories for identity tests: source records, observations and assertions with deterministic ids/times."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordObserved,
    RecordRef,
    SamePersonAsserted,
    SourceRecord,
)
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore

T0 = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)

Observe = Callable[..., RecordObserved]


def person_record(agency: str, local_id: str, **fields: Any) -> SourceRecord:
    defaults: dict[str, Any] = {
        "given_names": "Jane",
        "family_name": "Doe",
        "date_of_birth": date(1980, 3, 14),
        "sex": "F",
    }
    defaults.update(fields)
    return SourceRecord(agency=agency, local_person_id=local_id, **defaults)


@pytest.fixture
def observe() -> Observe:
    """observe(agency, local_id, **fields) -> RecordObserved with a fresh event id and a later time."""
    counter = itertools.count(1)

    def make(agency: str, local_id: str, **fields: Any) -> RecordObserved:
        n = next(counter)
        return RecordObserved(
            record=person_record(agency, local_id, **fields),
            source_event_id=f"event-{n}",
            observed_at=T0 + timedelta(minutes=n),
        )

    return make


@pytest.fixture
def same_person() -> Callable[..., SamePersonAsserted]:
    """same_person((agency, id), (agency, id), assertion_id=...) by a caseworker, with a reason."""
    return _same_person


@pytest.fixture
def different_persons() -> Callable[..., DifferentPersonsAsserted]:
    """different_persons((agency, id), (agency, id), assertion_id=...) by a DPO, with a reason."""
    return _different_persons


def _same_person(
    a: tuple[str, str], b: tuple[str, str], assertion_id: str = "assert-1", day: int = 1
) -> SamePersonAsserted:
    return SamePersonAsserted(
        assertion_id=assertion_id,
        first=RecordRef(agency=a[0], local_person_id=a[1]),
        second=RecordRef(agency=b[0], local_person_id=b[1]),
        asserted_by="caseworker-17",
        reason="confirmed in person at the housing office",
        asserted_at=T0 + timedelta(days=day),
    )


def _different_persons(
    a: tuple[str, str], b: tuple[str, str], assertion_id: str = "assert-2", day: int = 2
) -> DifferentPersonsAsserted:
    return DifferentPersonsAsserted(
        assertion_id=assertion_id,
        first=RecordRef(agency=a[0], local_person_id=a[1]),
        second=RecordRef(agency=b[0], local_person_id=b[1]),
        asserted_by="dpo-3",
        reason="two residents of one hostel, checked against the tenancy list",
        asserted_at=T0 + timedelta(days=day),
    )


@pytest.fixture
def resolver() -> IdentityResolver:
    return IdentityResolver(InMemoryIdentityStore())
