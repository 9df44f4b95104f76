"""A shard's local store: consumed offsets and the outbox, in one SQLite file shared with the service's state.

One file per shard (``<data_dir>/<service>/shard-<i>.sqlite``, WAL). A batch commits, in one transaction, the
service's state changes, the next offset of every partition it consumed (``consumed_offsets``) and the records
it wants published (``outbox``), so a kill -9 keeps a whole batch or none of it (ARCHITECTURE invariant 2).

``consumed_offsets`` is where the shard reads from: what a seek-back moves. ``handled_offsets`` is what the
shard's state already reflects, per partition: the next offset after the highest one ever handled. It only
moves forward, in the batch transaction, and only deleting the store resets it. A record below it is a
redelivery (a seek-back, an operator resetting the read position): the runtime skips it, so handling it
again neither changes the state nor publishes anything (ARCHITECTURE invariant 1). A partition's offsets are
always handled in increasing order, so "below the mark" is exactly "handled before".

``outbox.seq`` is ``AUTOINCREMENT``: a sequence number is never reused, even after sent rows are deleted, so
the relay's committed position ("everything below seq N was published") stays true forever.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

TopicPartition = tuple[str, int]
Headers = tuple[tuple[str, bytes], ...]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consumed_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS handled_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
INSERT OR IGNORE INTO handled_offsets (topic, partition, next_offset)
    SELECT topic, partition, next_offset FROM consumed_offsets;
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Publication:
    """One record to publish: the real topic name, the key and value bytes and the headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()


@dataclass(frozen=True)
class OutboxRow:
    """A publication waiting in the outbox under its sequence number."""

    seq: int
    publication: Publication


def shard_path(data_dir: Path | str, service: str, shard: int) -> Path:
    """Where shard ``shard`` of ``service`` keeps its store."""
    return Path(data_dir) / service / f"shard-{shard}.sqlite"


def _encode_headers(headers: Headers) -> str:
    return json.dumps([[name, value.decode("utf-8", "surrogateescape")] for name, value in headers])


def _decode_headers(text: str) -> Headers:
    return tuple(
        (str(name), str(value).encode("utf-8", "surrogateescape")) for name, value in json.loads(text)
    )


class ShardStore:
    """The offsets and outbox of one shard over one SQLite connection, which the service's state shares
    (``connection``): everything a batch stages commits in the one ``transaction()``."""

    def __init__(self, path: Path | str, *, durable: bool = False) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # transactions are explicit; wait up to 30 s for a previous owner of the shard to let go of the file
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The shard's connection: a service's state tables live in the same file and the same transaction."""
        return self._db

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._db.close()

    # ------------------------------------------------------------------ the batch transaction
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One batch: everything staged inside commits together, or (on an exception) not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested step inside ``transaction()`` that can be undone alone (one record of a failed batch)."""
        self._db.execute("SAVEPOINT step")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO step")
            self._db.execute("RELEASE step")
            raise
        self._db.execute("RELEASE step")

    def save_offsets(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Stage the next offset to read for each partition (and raise its handled mark to it)."""
        rows = [(topic, partition, offset) for (topic, partition), offset in sorted(offsets.items())]
        self._db.executemany(
            "INSERT INTO consumed_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            rows,
        )
        self._db.executemany(
            "INSERT INTO handled_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE "
            "SET next_offset = max(next_offset, excluded.next_offset)",
            rows,
        )

    def append(self, publications: Iterable[Publication]) -> None:
        """Stage records for the relay to publish, in order."""
        self._db.executemany(
            "INSERT INTO outbox (topic, key, value, headers) VALUES (?, ?, ?, ?)",
            [(p.topic, p.key, p.value, _encode_headers(p.headers)) for p in publications],
        )

    # ------------------------------------------------------------------ reads
    def next_offsets(self) -> dict[TopicPartition, int]:
        """The committed next offset per consumed partition (where a new owner of the shard seeks to)."""
        return self._offsets(
            "SELECT topic, partition, next_offset FROM consumed_offsets ORDER BY topic, partition"
        )

    def handled_offsets(self) -> dict[TopicPartition, int]:
        """Per partition, the next offset after the highest one the shard's state reflects (see the module
        doc): a record below it was handled before."""
        return self._offsets(
            "SELECT topic, partition, next_offset FROM handled_offsets ORDER BY topic, partition"
        )

    def _offsets(self, query: str) -> dict[TopicPartition, int]:
        rows = self._db.execute(query)
        return {(str(topic), int(partition)): int(offset) for topic, partition, offset in rows}

    def unsent(self, from_seq: int, limit: int) -> list[OutboxRow]:
        """Outbox rows with ``seq >= from_seq``, oldest first."""
        rows = self._db.execute(
            "SELECT seq, topic, key, value, headers FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?",
            (from_seq, limit),
        )
        return [
            OutboxRow(int(seq), Publication(str(topic), key, bytes(value), _decode_headers(headers)))
            for seq, topic, key, value, headers in rows
        ]

    def pending(self) -> int:
        """How many rows wait in the outbox (sent rows are deleted)."""
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def mark_sent(self, below_seq: int) -> None:
        """Forget every row below ``below_seq``: Kafka holds them (call after the Kafka commit)."""
        self._db.execute("DELETE FROM outbox WHERE seq < ?", (below_seq,))

    def resume_at(self, position: int, *, replays_number_alike: bool = False) -> None:
        """The relay's committed position is ``position`` (every row below it is in Kafka): forget those rows.

        If the store has never numbered that far, it is not the store that published them: it was rebuilt.

        - ``replays_number_alike`` (the stream runtime's shards): the store's numbering is a function of its
          inputs (one deterministic input order, each input's outputs appended in input order), so a rebuild
          from offset 0 makes the very rows Kafka holds under the very same numbers. Rows below the position
          are forgotten as they come (the relay calls ``mark_sent(position)`` before each flush): nothing is
          published twice. A rebuild that cannot replay the lost store's inputs (retention deleted some)
          cannot reproduce its numbering either: give it a fresh relay position (another namespace).
        - otherwise: its rows are all unsent, so they are renumbered from ``position`` on, and new rows follow
          them; the rebuild publishes everything again (same ids). Numbers Kafka already counts as published
          are never reused."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            allocated = int(row[0]) if row else 0
            if replays_number_alike or allocated >= position - 1:
                self._db.execute("DELETE FROM outbox WHERE seq < ?", (position,))
            else:
                shift = position - 1
                self._db.execute("UPDATE outbox SET seq = seq + ?", (shift,))
                if row:
                    self._db.execute(
                        "UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (allocated + shift,)
                    )
                else:
                    self._db.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (allocated + shift,)
                    )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
