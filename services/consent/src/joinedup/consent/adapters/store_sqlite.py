"""A ConsentStore in SQLite: events, processed input ids and consumed offsets in one transaction.

Every distinct event is kept (keyed by the hash of its canonical form) and the state is the fold of all of
them, which is independent of order, so a restart rebuilds exactly the state that was committed. The state
is also held in memory; it changes only after the transaction has committed.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

from joinedup.consent.app.ports import StoreCommit, TopicPartition
from joinedup.consent.domain.events import EVENT_TYPES, ConsentEvent
from joinedup.consent.domain.state import ConsentState, canonical_form

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_event (
    event_key   TEXT PRIMARY KEY,      -- sha256 of the canonical form
    event_type  TEXT NOT NULL,
    body        TEXT NOT NULL          -- the event as JSON
);
CREATE TABLE IF NOT EXISTS processed_input (
    input_id    TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS consumed_offset (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def _row(event: ConsentEvent) -> tuple[str, str, str]:
    key = hashlib.sha256(canonical_form(event).encode()).hexdigest()
    return key, type(event).__name__, event.model_dump_json()


class SqliteConsentStore:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._state = ConsentState.fold(
            EVENT_TYPES[event_type].model_validate_json(body)
            for event_type, body in self._db.execute(
                "SELECT event_type, body FROM consent_event ORDER BY event_key"
            )
        )

    def close(self) -> None:
        self._db.close()

    def state(self) -> ConsentState:
        return self._state

    def is_processed(self, input_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM processed_input WHERE input_id = ?", (input_id,)).fetchone()
        return row is not None

    def offsets(self) -> dict[TopicPartition, int]:
        rows = self._db.execute("SELECT topic, partition, next_offset FROM consumed_offset")
        return {(topic, partition): offset for topic, partition, offset in rows}

    def commit(self, commit: StoreCommit) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO consent_event (event_key, event_type, body) VALUES (?, ?, ?)",
                    [_row(event) for event in commit.events],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO processed_input (input_id) VALUES (?)",
                    [(input_id,) for input_id in commit.processed_ids],
                )
                self._db.executemany(
                    "INSERT INTO consumed_offset (topic, partition, next_offset) VALUES (?, ?, ?) "
                    "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                    [(topic, partition, offset) for (topic, partition), offset in commit.offsets.items()],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            for event in commit.events:
                self._state.apply(event)
