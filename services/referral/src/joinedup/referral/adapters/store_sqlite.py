"""The referral store in SQLite: aggregates, accepted submission keys and consumed offsets in one database,
committed in one transaction (ARCHITECTURE invariant 2), so a kill -9 keeps a whole batch or none of it.

Rows hold the aggregate as JSON (pydantic), keyed by its identity. Writes are buffered in memory (reads see
them) and written with one ``executemany`` per table by ``flush`` (``commit`` flushes first); a caller that
shares the connection (a stream-runtime shard) calls ``flush`` at the end of each batch, ``discard`` on
failure. WAL journal with ``synchronous=NORMAL``: durable across a process crash (kill -9); use
``durable=True`` for ``FULL`` if a power loss must not lose the last commit either.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from joinedup.referral.app.ports import Processed, TopicPartition
from joinedup.referral.domain.model import (
    Assessment,
    Contact,
    IncomingKey,
    RecordKey,
    Referral,
    ReferralKey,
)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
    referring_agency TEXT NOT NULL,
    referral_ref TEXT NOT NULL,
    to_agency TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (referring_agency, referral_ref)
);
CREATE INDEX IF NOT EXISTS referrals_by_receiver ON referrals (to_agency, referral_ref, referring_agency);
CREATE TABLE IF NOT EXISTS assessments (
    agency TEXT NOT NULL,
    assessment_ref TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (agency, assessment_ref)
);
CREATE TABLE IF NOT EXISTS contacts (
    agency TEXT NOT NULL,
    contact_ref TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (agency, contact_ref)
);
CREATE TABLE IF NOT EXISTS processed (
    submission_key TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


_PUT_REFERRAL = (
    "INSERT OR REPLACE INTO referrals (referring_agency, referral_ref, to_agency, body) VALUES (?, ?, ?, ?)"
)
_PUT_ASSESSMENT = "INSERT OR REPLACE INTO assessments (agency, assessment_ref, body) VALUES (?, ?, ?)"
_PUT_CONTACT = "INSERT OR REPLACE INTO contacts (agency, contact_ref, body) VALUES (?, ?, ?)"
_PUT_PROCESSED = "INSERT OR REPLACE INTO processed (submission_key, body) VALUES (?, ?)"


def _referral_row(referral: Referral) -> tuple[str, str, str, str]:
    return (referral.referring_agency, referral.referral_ref, referral.to_agency, referral.model_dump_json())


def _assessment_row(assessment: Assessment) -> tuple[str, str, str]:
    return (assessment.agency, assessment.assessment_ref, assessment.model_dump_json())


def _contact_row(contact: Contact) -> tuple[str, str, str]:
    return (contact.agency, contact.contact_ref, contact.model_dump_json())


class StoreVersionError(RuntimeError):
    """The database was written by another version of this store."""


class SqliteReferralStore:
    """Implements ``ReferralStore`` over one SQLite file (one per worker, or one per stream-runtime shard)."""

    def __init__(self, path: Path | str | sqlite3.Connection, *, durable: bool = False) -> None:
        """Open ``path`` (a file this store owns), or share an open connection (a stream-runtime shard's: its
        batch transaction then also holds these tables, and the runtime commits)."""
        self._referrals: dict[ReferralKey, Referral] = {}
        self._assessments: dict[RecordKey, Assessment] = {}
        self._contacts: dict[RecordKey, Contact] = {}
        self._processed: dict[str, Processed] = {}
        if isinstance(path, sqlite3.Connection):
            self._db = path
        else:
            self._db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise StoreVersionError(f"store schema version {version}, expected {SCHEMA_VERSION}")
        self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; anything staged and not committed is discarded."""
        self.rollback()
        self._db.close()

    def _one(self, sql: str, *params: str) -> str | None:
        row = self._db.execute(sql, params).fetchone()
        return None if row is None else str(row[0])

    def flush(self) -> None:
        """Write the buffered rows (in the open transaction, or a new one)."""
        if not (self._referrals or self._assessments or self._contacts or self._processed):
            return
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
        for sql, rows in (
            (_PUT_REFERRAL, [_referral_row(r) for r in self._referrals.values()]),
            (_PUT_ASSESSMENT, [_assessment_row(a) for a in self._assessments.values()]),
            (_PUT_CONTACT, [_contact_row(c) for c in self._contacts.values()]),
            (_PUT_PROCESSED, [(p.key, p.model_dump_json()) for p in self._processed.values()]),
        ):
            if rows:
                self._db.executemany(sql, rows)
        self.discard()

    def discard(self) -> None:
        """Forget the buffered rows (the batch they belong to failed)."""
        self._referrals.clear()
        self._assessments.clear()
        self._contacts.clear()
        self._processed.clear()

    # reads (they see staged rows: same connection, same transaction)
    def referral(self, key: ReferralKey) -> Referral | None:
        if (buffered := self._referrals.get(key)) is not None:
            return buffered
        body = self._one(
            "SELECT body FROM referrals WHERE referring_agency = ? AND referral_ref = ?",
            key.referring_agency,
            key.referral_ref,
        )
        return None if body is None else Referral.model_validate_json(body)

    def referral_sent_to(self, key: IncomingKey) -> Referral | None:
        self.flush()  # rare (a withdrawal): let the query see the buffered referrals
        body = self._one(
            "SELECT body FROM referrals WHERE to_agency = ? AND referral_ref = ? "
            "ORDER BY referring_agency LIMIT 1",
            key.to_agency,
            key.referral_ref,
        )
        return None if body is None else Referral.model_validate_json(body)

    def assessment(self, key: RecordKey) -> Assessment | None:
        if (buffered := self._assessments.get(key)) is not None:
            return buffered
        body = self._one(
            "SELECT body FROM assessments WHERE agency = ? AND assessment_ref = ?", key.agency, key.ref
        )
        return None if body is None else Assessment.model_validate_json(body)

    def contact(self, key: RecordKey) -> Contact | None:
        if (buffered := self._contacts.get(key)) is not None:
            return buffered
        body = self._one(
            "SELECT body FROM contacts WHERE agency = ? AND contact_ref = ?", key.agency, key.ref
        )
        return None if body is None else Contact.model_validate_json(body)

    def processed(self, key: str) -> Processed | None:
        if (buffered := self._processed.get(key)) is not None:
            return buffered
        body = self._one("SELECT body FROM processed WHERE submission_key = ?", key)
        return None if body is None else Processed.model_validate_json(body)

    # staged writes (buffered until ``flush``)
    def put_referral(self, referral: Referral) -> None:
        self._referrals[referral.key] = referral

    def put_assessment(self, assessment: Assessment) -> None:
        self._assessments[assessment.key] = assessment

    def put_contact(self, contact: Contact) -> None:
        self._contacts[contact.key] = contact

    def put_processed(self, processed: Processed) -> None:
        self._processed[processed.key] = processed

    # transaction
    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.flush()
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
        self._db.executemany(
            "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            [(topic, partition, offset) for (topic, partition), offset in sorted(offsets.items())],
        )
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        self.discard()
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def offsets(self) -> dict[TopicPartition, int]:
        rows = self._db.execute("SELECT topic, partition, next_offset FROM offsets ORDER BY topic, partition")
        return {(str(topic), int(partition)): int(offset) for topic, partition, offset in rows}
