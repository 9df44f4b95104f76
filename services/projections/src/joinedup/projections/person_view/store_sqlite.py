"""The person view state in SQLite, on a connection the caller owns.

The store never begins, commits or rolls back: it runs inside the caller's transaction, so the view's rows,
the processed event ids, the consumed offsets and the outbox (``joinedup.contract.outbox.ShardStore``, the
stream runtime's store, on the same connection) commit together, and kill -9 keeps a whole batch or none of
it. :func:`open_person_view_store` opens a stand-alone file (WAL) that way.

Tables (prefixed ``pv_`` to share a shard file with the runtime's ``consumed_offsets`` and ``outbox``) are
keyed by record and item, never one document per person: a merge rewrites the moved records' rows only.
Times are integers (microseconds since the epoch, UTC).

Migration: :func:`create_tables` brings a store from before up to date in place (``pv_alerts.holds`` was
added with a default of 1: an old store's alerts all show, as they did, until their person is next
checked). An old store's alert rows keep the dates they were given then (the time of the event that revealed
them); ``joinedup projections rebuild`` re-derives them under the current rule.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from joinedup.contract.outbox import ShardStore
from joinedup.projections.person_view.assembly import ViewAssembly
from joinedup.projections.person_view.read_model import (
    PersonSearch,
    PersonView,
    SourceRecord,
    StatusChange,
    found_views,
)
from joinedup.projections.person_view.search_keys import (
    name_search_key,
    nhs_search_key,
    ni_search_key,
    postcode_search_key,
)
from joinedup.projections.person_view.store import (
    AlertRow,
    ItemRow,
    OccurrenceChange,
    RecordKey,
    Version,
    as_utc,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pv_processed (event_id TEXT PRIMARY KEY) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pv_records (
        agency TEXT NOT NULL,
        local_person_id TEXT NOT NULL,
        person_id TEXT,
        version_at INTEGER,
        version_event TEXT,
        nhs_number TEXT,
        ni_number TEXT,
        given_names TEXT,
        family_name TEXT,
        date_of_birth TEXT,
        postcode TEXT,
        nhs_key TEXT,
        ni_key TEXT,
        given_key TEXT,
        family_key TEXT,
        postcode_key TEXT,
        PRIMARY KEY (agency, local_person_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS pv_records_person ON pv_records (person_id)",
    "CREATE INDEX IF NOT EXISTS pv_records_nhs ON pv_records (nhs_key) WHERE nhs_key IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS pv_records_ni ON pv_records (ni_key) WHERE ni_key IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS pv_records_family ON pv_records (family_key) WHERE family_key IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS pv_records_postcode ON pv_records (postcode_key) "
    "WHERE postcode_key IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS pv_persons (
        person_id TEXT PRIMARY KEY,
        alias_of TEXT
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pv_items (
        item_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        agency TEXT NOT NULL,
        ref TEXT NOT NULL,
        record_agency TEXT NOT NULL,
        record_local_id TEXT NOT NULL,
        type TEXT NOT NULL,
        occurred_at INTEGER NOT NULL,
        data_categories TEXT NOT NULL,
        related_refs TEXT NOT NULL,
        counterpart_agency TEXT,
        root TEXT NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS pv_items_record ON pv_items (record_agency, record_local_id)",
    """CREATE TABLE IF NOT EXISTS pv_history (
        item_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        status TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (item_id, event_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS pv_alerts (
        alert_id TEXT PRIMARY KEY,
        trigger_root TEXT NOT NULL,
        trigger_item_id TEXT NOT NULL,
        earlier_item_id TEXT NOT NULL,
        requesting_agency TEXT NOT NULL,
        equivalence_group TEXT NOT NULL,
        detected_at INTEGER NOT NULL,
        holds INTEGER NOT NULL DEFAULT 1,
        UNIQUE (trigger_root, earlier_item_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS pv_alerts_trigger ON pv_alerts (trigger_item_id)",
)
INDEXES_AFTER_MIGRATION = ("CREATE INDEX IF NOT EXISTS pv_alerts_earlier ON pv_alerts (earlier_item_id)",)
ALERT_COLUMNS = (
    "alert_id, trigger_root, trigger_item_id, earlier_item_id, requesting_agency, equivalence_group, "
    "detected_at, holds"
)


def to_micros(moment: datetime) -> int:
    return (as_utc(moment) - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def create_tables(connection: sqlite3.Connection) -> None:
    """Create the person view's tables if they do not exist (inside the caller's transaction, if any)."""
    for statement in SCHEMA:
        connection.execute(statement)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(pv_alerts)")}
    if "holds" not in columns:  # a store from before alerts could stop holding
        connection.execute("ALTER TABLE pv_alerts ADD COLUMN holds INTEGER NOT NULL DEFAULT 1")
    for statement in INDEXES_AFTER_MIGRATION:
        connection.execute(statement)


def _source_record(row: Sequence[Any]) -> SourceRecord:
    agency, local_id, nhs, ni, given, family, born, postcode = row
    return SourceRecord(
        agency=agency,
        local_person_id=local_id,
        nhs_number=nhs,
        ni_number=ni,
        given_names=given,
        family_name=family,
        date_of_birth=date.fromisoformat(born) if born else None,
        postcode=postcode,
    )


def _item(row: Sequence[Any]) -> ItemRow:
    item_id, kind, agency, ref, rec_agency, rec_id, type_, at, categories, related, counterpart, root = row
    return ItemRow(
        item_id=item_id,
        kind=kind,
        agency=agency,
        ref=ref,
        record=(rec_agency, rec_id),
        type=type_,
        occurred_at=from_micros(at),
        data_categories=tuple(json.loads(categories)),
        related_refs=tuple(json.loads(related)),
        counterpart_agency=counterpart,
        root=root,
    )


def _alert(row: Sequence[Any]) -> AlertRow:
    alert_id, root, trigger, earlier, agency, group, at, holds = row
    return AlertRow(
        alert_id=alert_id,
        trigger_root=root,
        trigger_item_id=trigger,
        earlier_item_id=earlier,
        requesting_agency=agency,
        equivalence_group=group,
        detected_at=from_micros(at),
        holds=bool(holds),
    )


class SqlitePersonViewStore:
    """:class:`~joinedup.projections.person_view.store.PersonViewStore` over a caller's connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection
        create_tables(connection)
        self._assembly = ViewAssembly(self)

    # idempotence
    def mark_processed(self, event_id: str) -> bool:
        cursor = self.db.execute("INSERT OR IGNORE INTO pv_processed (event_id) VALUES (?)", (event_id,))
        return cursor.rowcount == 1

    # records and persons
    def save_identifiers(self, record: SourceRecord, version: Version) -> None:
        at, event_id = to_micros(version[0]), version[1]
        self.db.execute(
            "INSERT INTO pv_records (agency, local_person_id, nhs_number, ni_number, given_names, "
            "family_name, date_of_birth, postcode, version_at, version_event, nhs_key, ni_key, "
            "given_key, family_key, postcode_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (agency, local_person_id) DO UPDATE SET "
            "nhs_number = excluded.nhs_number, ni_number = excluded.ni_number, "
            "given_names = excluded.given_names, family_name = excluded.family_name, "
            "date_of_birth = excluded.date_of_birth, postcode = excluded.postcode, "
            "version_at = excluded.version_at, version_event = excluded.version_event, "
            "nhs_key = excluded.nhs_key, ni_key = excluded.ni_key, given_key = excluded.given_key, "
            "family_key = excluded.family_key, postcode_key = excluded.postcode_key "
            "WHERE pv_records.version_at IS NULL "
            "OR (excluded.version_at, excluded.version_event) "
            "> (pv_records.version_at, pv_records.version_event)",
            (
                record.agency,
                record.local_person_id,
                record.nhs_number,
                record.ni_number,
                record.given_names,
                record.family_name,
                record.date_of_birth.isoformat() if record.date_of_birth else None,
                record.postcode,
                at,
                event_id,
                nhs_search_key(record.nhs_number),
                ni_search_key(record.ni_number),
                name_search_key(record.given_names),
                name_search_key(record.family_name),
                postcode_search_key(record.postcode),
            ),
        )

    def source_record(self, key: RecordKey) -> SourceRecord | None:
        row = self.db.execute(
            "SELECT agency, local_person_id, nhs_number, ni_number, given_names, family_name, "
            "date_of_birth, postcode FROM pv_records WHERE agency = ? AND local_person_id = ? "
            "AND version_at IS NOT NULL",
            key,
        ).fetchone()
        return _source_record(row) if row is not None else None

    def place_record(self, key: RecordKey, person_id: str) -> None:
        self.db.execute(
            "INSERT INTO pv_records (agency, local_person_id, person_id) VALUES (?, ?, ?) "
            "ON CONFLICT (agency, local_person_id) DO UPDATE SET person_id = excluded.person_id",
            (*key, person_id),
        )
        self.db.execute(
            "INSERT INTO pv_persons (person_id, alias_of) VALUES (?, NULL) "
            "ON CONFLICT (person_id) DO UPDATE SET alias_of = NULL",
            (person_id,),
        )

    def absorb(self, survivor: str, absorbed: str) -> None:
        self.db.execute("UPDATE pv_records SET person_id = ? WHERE person_id = ?", (survivor, absorbed))
        self.db.execute(
            "INSERT INTO pv_persons (person_id, alias_of) VALUES (?, NULL) "
            "ON CONFLICT (person_id) DO NOTHING",
            (survivor,),
        )
        self.db.execute(
            "INSERT INTO pv_persons (person_id, alias_of) VALUES (?, ?) "
            "ON CONFLICT (person_id) DO UPDATE SET alias_of = excluded.alias_of",
            (absorbed, survivor),
        )

    def records_of(self, person_id: str) -> list[RecordKey]:
        rows = self.db.execute(
            "SELECT agency, local_person_id FROM pv_records WHERE person_id = ? "
            "ORDER BY agency, local_person_id",
            (person_id,),
        )
        return [(str(a), str(b)) for a, b in rows]

    def person_ids(self) -> list[str]:
        rows = self.db.execute(
            "SELECT DISTINCT person_id FROM pv_records WHERE person_id IS NOT NULL ORDER BY person_id"
        )
        return [str(p) for (p,) in rows]

    def unplaced_records(self) -> list[RecordKey]:
        rows = self.db.execute(
            "SELECT agency, local_person_id FROM pv_records WHERE person_id IS NULL "
            "ORDER BY agency, local_person_id"
        )
        return [(str(a), str(b)) for a, b in rows]

    def aliases(self) -> list[tuple[str, str]]:
        rows = self.db.execute(
            "SELECT person_id, alias_of FROM pv_persons WHERE alias_of IS NOT NULL "
            "ORDER BY person_id, alias_of"
        )
        return [(str(a), str(b)) for a, b in rows]

    # items
    def item(self, item_id: str) -> ItemRow | None:
        row = self.db.execute(
            "SELECT item_id, kind, agency, ref, record_agency, record_local_id, type, occurred_at, "
            "data_categories, related_refs, counterpart_agency, root FROM pv_items WHERE item_id = ?",
            (item_id,),
        ).fetchone()
        return _item(row) if row is not None else None

    def put_item(self, row: ItemRow) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO pv_items (item_id, kind, agency, ref, record_agency, record_local_id, "
            "type, occurred_at, data_categories, related_refs, counterpart_agency, root) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.item_id,
                row.kind,
                row.agency,
                row.ref,
                row.record[0],
                row.record[1],
                row.type,
                to_micros(row.occurred_at),
                json.dumps(list(row.data_categories)),
                json.dumps(list(row.related_refs)),
                row.counterpart_agency,
                row.root,
            ),
        )

    def add_status(self, item_id: str, change: StatusChange) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO pv_history (item_id, event_id, status, at) VALUES (?, ?, ?, ?)",
            (item_id, change.event_id, change.status, to_micros(change.at)),
        )

    def items_of(self, records: Sequence[RecordKey]) -> list[ItemRow]:
        rows = self.db.execute(
            "SELECT item_id, kind, agency, ref, record_agency, record_local_id, type, occurred_at, "
            "data_categories, related_refs, counterpart_agency, root FROM pv_items "
            "WHERE (record_agency, record_local_id) IN "
            "(SELECT value ->> 0, value ->> 1 FROM json_each(?)) ORDER BY item_id",
            (json.dumps(sorted(set(records))),),
        )
        return [_item(row) for row in rows]

    def history_of(self, item_ids: Sequence[str]) -> dict[str, list[StatusChange]]:
        found: dict[str, list[StatusChange]] = {item_id: [] for item_id in item_ids}
        rows = self.db.execute(
            "SELECT item_id, event_id, status, at FROM pv_history "
            "WHERE item_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(item_ids))),),
        )
        for item_id, event_id, status, at in rows:
            found[item_id].append(StatusChange(status=status, at=from_micros(at), event_id=event_id))
        return found

    def occurrence_changes(self, person_id: str, types: Sequence[str] | None) -> list[OccurrenceChange]:
        rows = self.db.execute(
            "SELECT i.item_id, i.root, i.kind, i.agency, i.ref, i.type, i.occurred_at, "
            "h.status, h.at, h.event_id "
            "FROM pv_records r "
            "JOIN pv_items i ON i.record_agency = r.agency AND i.record_local_id = r.local_person_id "
            "JOIN pv_history h ON h.item_id = i.item_id "
            "WHERE r.person_id = ?1 AND i.kind IN ('assessment', 'referral') AND i.type != 'referral' "
            "AND (?2 IS NULL OR i.type IN (SELECT value FROM json_each(?2)))",
            (person_id, json.dumps(sorted(set(types))) if types is not None else None),
        )
        return [
            OccurrenceChange(
                item_id,
                root,
                kind,
                agency,
                ref,
                type_,
                from_micros(occurred),
                status,
                from_micros(at),
                event_id,
            )
            for item_id, root, kind, agency, ref, type_, occurred, status, at, event_id in rows
        ]

    # alerts
    def alert_of_pair(self, trigger_root: str, earlier_item_id: str) -> AlertRow | None:
        row = self.db.execute(
            f"SELECT {ALERT_COLUMNS} FROM pv_alerts WHERE trigger_root = ? AND earlier_item_id = ?",  # noqa: S608
            (trigger_root, earlier_item_id),
        ).fetchone()
        return _alert(row) if row is not None else None

    def save_alert(self, row: AlertRow) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO pv_alerts ({ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            (
                row.alert_id,
                row.trigger_root,
                row.trigger_item_id,
                row.earlier_item_id,
                row.requesting_agency,
                row.equivalence_group,
                to_micros(row.detected_at),
                int(row.holds),
            ),
        )

    def alerts_triggered_by(self, item_ids: Sequence[str]) -> list[AlertRow]:
        rows = self.db.execute(
            f"SELECT {ALERT_COLUMNS} FROM pv_alerts "  # noqa: S608
            "WHERE trigger_item_id IN (SELECT value FROM json_each(?)) ORDER BY alert_id",
            (json.dumps(sorted(set(item_ids))),),
        )
        return [_alert(row) for row in rows]

    def alerts_of_earlier(self, item_ids: Sequence[str]) -> list[AlertRow]:
        rows = self.db.execute(
            f"SELECT {ALERT_COLUMNS} FROM pv_alerts "  # noqa: S608
            "WHERE earlier_item_id IN (SELECT value FROM json_each(?)) ORDER BY alert_id",
            (json.dumps(sorted(set(item_ids))),),
        )
        return [_alert(row) for row in rows]

    # the reader (PersonViewReader)
    def resolve_person_id(self, person_id: str) -> str | None:
        seen: set[str] = set()
        current = person_id
        while current not in seen:
            seen.add(current)
            row = self.db.execute(
                "SELECT alias_of FROM pv_persons WHERE person_id = ?", (current,)
            ).fetchone()
            if row is None:
                return None if current == person_id else current
            if row[0] is None:
                return current
            current = str(row[0])
        return current

    def person(self, person_id: str) -> PersonView | None:
        return self._assembly.person(person_id)

    def person_of_record(self, agency: str, local_person_id: str) -> str | None:
        row = self.db.execute(
            "SELECT person_id FROM pv_records WHERE agency = ? AND local_person_id = ?",
            (agency, local_person_id),
        ).fetchone()
        return str(row[0]) if row is not None and row[0] is not None else None

    def find_views(self, search: PersonSearch, limit: int = 20) -> list[PersonView]:
        return found_views(self, search, limit)

    def find_persons(self, search: PersonSearch, limit: int = 20) -> list[str]:
        keys = (
            (search.nhs_number, nhs_search_key),
            (search.ni_number, ni_search_key),
            (search.family_name, name_search_key),
            (search.given_name, name_search_key),
            (search.postcode, postcode_search_key),
        )
        params: list[Any] = []
        for value, key_of in keys:
            key = key_of(value) if value is not None else None
            if value is not None and key is None:
                return []  # a blank criterion matches nothing
            params.append(key)
        params.append(search.date_of_birth.isoformat() if search.date_of_birth else None)
        if all(p is None for p in params):
            return []
        rows = self.db.execute(
            "SELECT DISTINCT person_id FROM pv_records WHERE person_id IS NOT NULL "
            "AND (?1 IS NULL OR nhs_key = ?1) AND (?2 IS NULL OR ni_key = ?2) "
            "AND (?3 IS NULL OR family_key = ?3) "
            "AND (?4 IS NULL OR given_key = ?4 OR instr(' ' || given_key || ' ', ' ' || ?4 || ' ') > 0) "
            "AND (?5 IS NULL OR postcode_key = ?5) AND (?6 IS NULL OR date_of_birth = ?6) "
            "ORDER BY person_id LIMIT ?7",
            [*params, limit],
        )
        return [str(p) for (p,) in rows]


def open_person_view_store(
    path: Path | str, *, durable: bool = False
) -> tuple[ShardStore, SqlitePersonViewStore]:
    """A stand-alone store file: the runtime's :class:`ShardStore` (WAL, offsets, outbox, ``transaction()``)
    with the person view's tables on its connection. Apply a batch inside ``shard.transaction()``."""
    shard = ShardStore(path, durable=durable)
    try:
        return shard, SqlitePersonViewStore(shard.connection)
    except BaseException:
        shard.close()
        raise
