"""The person view's state behind a Protocol, and an in-memory implementation.

The state is kept in small rows keyed by source record, never as one growing document per person:

- ``records``: each source record's identifiers (the latest report wins) and the person it is placed in (None
  until the identity stream places it: items reported against it are *held* under the record meanwhile);
- ``persons``: every person id the identity stream named, with the survivor it was merged into (an alias);
- ``items``: one row per referral, assessment or contact as its agency reported it, under its record;
- ``history``: one row per status change (the event that changed it), keyed by item id, so a status event
  that arrives before its item waits there;
- ``alerts``: one row per (trigger root, earlier assessment) pair ever found, marked when the items as they
  stand no longer make it a repeat (kept, so the pair is never raised twice; not shown);
- ``processed``: the ids of the events already applied (idempotence on event_id).

Merging or splitting persons rewrites only the ``records`` rows that move: items follow their record. The
view of a person is assembled on read (:mod:`joinedup.projections.person_view.assembly`).

A durable store (store_sqlite.py) implements the same Protocol over a caller's SQLite connection, so the
state, the processed ids, the consumed offsets and the outbox commit in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from joinedup.projections.person_view.assembly import ViewAssembly
from joinedup.projections.person_view.lifecycle import ASSESSMENT, REFERRAL
from joinedup.projections.person_view.read_model import (
    PersonSearch,
    PersonView,
    PersonViewReader,
    SourceRecord,
    StatusChange,
    found_views,
)
from joinedup.projections.person_view.search_keys import record_matches

RecordKey = tuple[str, str]
"""A source record: (agency, local_person_id)."""

OCCURRENCE_KINDS = (ASSESSMENT, REFERRAL)
"""The kinds of item the repeat detector reads (a referral only when it requests an assessment type)."""

Version = tuple[datetime, str]
"""Which report of a record's identifiers is newest: (occurred_at, event_id)."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One referral, assessment or contact as its agency reported it (before contacts are de-duplicated)."""

    item_id: str
    kind: str
    agency: str
    ref: str
    record: RecordKey
    type: str
    occurred_at: datetime
    data_categories: tuple[str, ...]
    related_refs: tuple[str, ...]
    counterpart_agency: str | None
    root: str
    """The piece of work it belongs to: a referral's own id; an assessment made under a referral has the
    referral's id (so the referral and the assessment it asked for count as one occurrence); else its id."""


@dataclass(frozen=True, slots=True)
class OccurrenceChange:
    """One status change of an assessment or an assessment-requesting referral, with its item's facts:
    what the repeat detector reads (one row per status change; the projector keeps each item's latest)."""

    item_id: str
    root: str
    kind: str
    agency: str
    ref: str
    type: str
    occurred_at: datetime
    status: str
    at: datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    """A repeat-assessment alert: ``trigger_item_id`` repeats ``earlier_item_id``."""

    alert_id: str
    trigger_root: str
    trigger_item_id: str
    earlier_item_id: str
    requesting_agency: str
    equivalence_group: str
    detected_at: datetime
    holds: bool = True
    """False once the person's items as they stand no longer make it a repeat (a change dated before the
    trigger reported late, a split that separated the two): kept so the pair is never raised twice, and not
    shown in the view."""


class PersonViewStore(PersonViewReader, Protocol):
    """What the projector reads and writes. Every method runs inside the caller's transaction."""

    # idempotence
    def mark_processed(self, event_id: str) -> bool:
        """Record that ``event_id`` was applied; False if it had been already (then apply nothing)."""
        ...

    # records and persons
    def save_identifiers(self, record: SourceRecord, version: Version) -> None:
        """Keep ``record``'s identifiers unless a newer report (a higher ``version``) is stored."""
        ...

    def source_record(self, key: RecordKey) -> SourceRecord | None: ...

    def place_record(self, key: RecordKey, person_id: str) -> None:
        """``key`` belongs to ``person_id`` now (which stops being an alias if it was one)."""
        ...

    def absorb(self, survivor: str, absorbed: str) -> None:
        """Every record of ``absorbed`` moves to ``survivor``; ``absorbed`` becomes an alias of it."""
        ...

    def records_of(self, person_id: str) -> list[RecordKey]:
        """The records placed in ``person_id`` (a current id, not an alias), sorted."""
        ...

    def person_ids(self) -> list[str]:
        """Every current person with at least one record, sorted."""
        ...

    def unplaced_records(self) -> list[RecordKey]:
        """Records with items or identifiers that no identity event has placed yet, sorted."""
        ...

    def aliases(self) -> list[tuple[str, str]]:
        """(absorbed id, survivor id) pairs, sorted."""
        ...

    # items
    def item(self, item_id: str) -> ItemRow | None: ...

    def put_item(self, row: ItemRow) -> None: ...

    def add_status(self, item_id: str, change: StatusChange) -> None: ...

    def items_of(self, records: Sequence[RecordKey]) -> list[ItemRow]:
        """The items reported against these records, sorted by item id."""
        ...

    def history_of(self, item_ids: Sequence[str]) -> dict[str, list[StatusChange]]:
        """Each item's status changes (in no particular order; the assembly sorts them)."""
        ...

    def occurrence_changes(self, person_id: str, types: Sequence[str] | None) -> list[OccurrenceChange]:
        """The status changes of the person's assessments and referrals whose (requested) type is one of
        ``types`` (None: any assessment type), in no particular order."""
        ...

    # alerts
    def alert_of_pair(self, trigger_root: str, earlier_item_id: str) -> AlertRow | None:
        """The alert stored for this (trigger root, earlier assessment) pair, if any."""
        ...

    def save_alert(self, row: AlertRow) -> None:
        """Store the alert of its pair, replacing the one stored for that pair (its id is the pair's)."""
        ...

    def alerts_triggered_by(self, item_ids: Sequence[str]) -> list[AlertRow]: ...

    def alerts_of_earlier(self, item_ids: Sequence[str]) -> list[AlertRow]:
        """The alerts whose earlier assessment is one of ``item_ids``, by alert id."""
        ...


def as_utc(moment: datetime) -> datetime:
    """Every time is kept in UTC, so two stores (and two replays) serialise it identically."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC)


def follow_aliases(person_id: str, alias_of: dict[str, str]) -> str:
    """The current id of ``person_id`` (a chain of merges is followed; a cycle stops where it closes)."""
    seen = {person_id}
    while (target := alias_of.get(person_id)) is not None and target not in seen:
        seen.add(target)
        person_id = target
    return person_id


# ---------------------------------------------------------------- in memory


class MemoryPersonViewStore:
    """The whole state in dictionaries: for tests, and the reference the SQLite store is checked against."""

    def __init__(self) -> None:
        self._processed: set[str] = set()
        self._identifiers: dict[RecordKey, tuple[Version, SourceRecord]] = {}
        self._person_of: dict[RecordKey, str] = {}
        self._persons: dict[str, str | None] = {}  # person id -> survivor (None while current)
        self._items: dict[str, ItemRow] = {}
        self._items_by_record: dict[RecordKey, dict[str, None]] = {}
        self._history: dict[str, dict[str, StatusChange]] = {}
        self._alerts: dict[str, AlertRow] = {}
        self._alert_pairs: dict[tuple[str, str], str] = {}
        self._alerts_by_trigger: dict[str, dict[str, None]] = {}
        self._alerts_by_earlier: dict[str, dict[str, None]] = {}
        self._assembly = ViewAssembly(self)

    # idempotence
    def mark_processed(self, event_id: str) -> bool:
        if event_id in self._processed:
            return False
        self._processed.add(event_id)
        return True

    # records and persons
    def save_identifiers(self, record: SourceRecord, version: Version) -> None:
        key = (record.agency, record.local_person_id)
        stored = self._identifiers.get(key)
        if stored is None or stored[0] < version:
            self._identifiers[key] = (version, record)

    def source_record(self, key: RecordKey) -> SourceRecord | None:
        stored = self._identifiers.get(key)
        return stored[1] if stored is not None else None

    def place_record(self, key: RecordKey, person_id: str) -> None:
        self._person_of[key] = person_id
        self._persons[person_id] = None

    def absorb(self, survivor: str, absorbed: str) -> None:
        for key in self.records_of(absorbed):
            self._person_of[key] = survivor
        self._persons.setdefault(survivor, None)
        self._persons[absorbed] = survivor

    def records_of(self, person_id: str) -> list[RecordKey]:
        return sorted(key for key, person in self._person_of.items() if person == person_id)

    def person_ids(self) -> list[str]:
        return sorted(set(self._person_of.values()))

    def unplaced_records(self) -> list[RecordKey]:
        known = set(self._identifiers) | {row.record for row in self._items.values()}
        return sorted(known - set(self._person_of))

    def aliases(self) -> list[tuple[str, str]]:
        return sorted((person, survivor) for person, survivor in self._persons.items() if survivor)

    # items
    def item(self, item_id: str) -> ItemRow | None:
        return self._items.get(item_id)

    def put_item(self, row: ItemRow) -> None:
        previous = self._items.get(row.item_id)
        if previous is not None and previous.record != row.record:
            self._items_by_record.get(previous.record, {}).pop(row.item_id, None)
        self._items[row.item_id] = row
        self._items_by_record.setdefault(row.record, {})[row.item_id] = None

    def add_status(self, item_id: str, change: StatusChange) -> None:
        self._history.setdefault(item_id, {}).setdefault(change.event_id, change)

    def items_of(self, records: Sequence[RecordKey]) -> list[ItemRow]:
        ids = sorted(item_id for key in records for item_id in self._items_by_record.get(key, {}))
        return [self._items[item_id] for item_id in ids]

    def history_of(self, item_ids: Sequence[str]) -> dict[str, list[StatusChange]]:
        return {item_id: list(self._history.get(item_id, {}).values()) for item_id in item_ids}

    def occurrence_changes(self, person_id: str, types: Sequence[str] | None) -> list[OccurrenceChange]:
        wanted = set(types) if types is not None else None
        return [
            OccurrenceChange(
                row.item_id,
                row.root,
                row.kind,
                row.agency,
                row.ref,
                row.type,
                row.occurred_at,
                change.status,
                change.at,
                change.event_id,
            )
            for row in self.items_of(self.records_of(person_id))
            if row.kind in OCCURRENCE_KINDS
            and row.type != REFERRAL
            and (wanted is None or row.type in wanted)
            for change in self._history.get(row.item_id, {}).values()
        ]

    # alerts
    def alert_of_pair(self, trigger_root: str, earlier_item_id: str) -> AlertRow | None:
        alert_id = self._alert_pairs.get((trigger_root, earlier_item_id))
        return self._alerts[alert_id] if alert_id is not None else None

    def save_alert(self, row: AlertRow) -> None:
        previous = self._alerts.get(row.alert_id)
        if previous is not None:
            self._alerts_by_trigger.get(previous.trigger_item_id, {}).pop(row.alert_id, None)
        self._alerts[row.alert_id] = row
        self._alert_pairs[(row.trigger_root, row.earlier_item_id)] = row.alert_id
        self._alerts_by_trigger.setdefault(row.trigger_item_id, {})[row.alert_id] = None
        self._alerts_by_earlier.setdefault(row.earlier_item_id, {})[row.alert_id] = None

    def alerts_triggered_by(self, item_ids: Sequence[str]) -> list[AlertRow]:
        found = {a for item_id in item_ids for a in self._alerts_by_trigger.get(item_id, [])}
        return [self._alerts[alert_id] for alert_id in sorted(found)]

    def alerts_of_earlier(self, item_ids: Sequence[str]) -> list[AlertRow]:
        found = {a for item_id in item_ids for a in self._alerts_by_earlier.get(item_id, {})}
        return [self._alerts[alert_id] for alert_id in sorted(found)]

    # the reader (PersonViewReader)
    def resolve_person_id(self, person_id: str) -> str | None:
        if person_id not in self._persons:
            return None
        return follow_aliases(person_id, {p: s for p, s in self._persons.items() if s})

    def person(self, person_id: str) -> PersonView | None:
        return self._assembly.person(person_id)

    def person_of_record(self, agency: str, local_person_id: str) -> str | None:
        return self._person_of.get((agency, local_person_id))

    def find_views(self, search: PersonSearch, limit: int = 20) -> list[PersonView]:
        return found_views(self, search, limit)

    def find_persons(self, search: PersonSearch, limit: int = 20) -> list[str]:
        found = {
            person
            for key, person in self._person_of.items()
            if (record := self.source_record(key)) is not None and record_matches(record, search)
        }
        return sorted(found)[:limit]
