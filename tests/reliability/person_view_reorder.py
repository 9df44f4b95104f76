"""R5 (person view): canonical referral events and identity events delivered to the person view in an order
other than the natural one, the person view worker as a process, and its view read back through the
``joinedup projections`` CLI (``hash``, ``rebuild``).

- :func:`natural_inputs`: a synthetic stream (the projections' ``synthetic_stream``: per person two or three
  records placed by ``PersonCreated`` / ``RecordLinked``, some persons merged into later ones, then referrals,
  assessments and contacts about the records) as (index, catalog topic, key, value) in natural order; each
  record's Kafka timestamp is ``T0_MS + index`` whatever order it is sent in.
- :func:`reordered_rounds`: the same inputs in rounds, identity events ahead of the records they place and
  merge, and referral events ahead of their records' identity events, with some delivered twice.
- :func:`reference_alerts`: the pure projector over the natural order: which input raises which alert.
- :class:`PersonViewProcess`: the person view worker alone (``joinedup run projections`` would also run the
  identity resolver, which would publish identity events of its own next to these).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from joinedup.contract.envelope import from_kafka_timestamp, to_kafka_timestamp
from joinedup.contract.kafka import consumer, producer
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import IDENTITY_EVENTS
from joinedup.projections.person_view.canonical_hash import canonical_json, canonical_lines
from joinedup.projections.person_view.event_factory import keyed_synthetic_stream, synthetic_stream
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import MemoryPersonViewStore
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore

from .harness import Acked, Ledger

T0_MS = to_kafka_timestamp(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@dataclass(frozen=True)
class CanonicalInput:
    index: int
    """Its place in the natural order (its Kafka timestamp is ``T0_MS + index``)."""
    topic: str
    """Catalog name."""
    key: bytes
    value: bytes
    event_id: str

    @property
    def identity(self) -> bool:
        return self.topic == IDENTITY_EVENTS


def natural_inputs(count: int, seed: int) -> list[CanonicalInput]:
    """Identity events keyed by person id, referral events by their subject's record (a referral's status
    events by the record the referral is about), in natural order."""
    codec = default_codec()
    inputs: list[CanonicalInput] = []
    for n, (topic, key, event) in enumerate(keyed_synthetic_stream(count, seed=seed)):
        inputs.append(
            CanonicalInput(n, topic, key.encode(), codec.encode(event), str(event.envelope.event_id))
        )
    return inputs


def reordered_rounds(
    inputs: Sequence[CanonicalInput], redeliver_every: int = 37
) -> list[list[CanonicalInput]]:
    """Four rounds, each processed before the next is sent:

    1. the identity events of the first half of the stream: persons created, records linked and persons
       merged before any of the records they concern has reached the view;
    2. the referral events of the first three quarters: for the third quarter, records whose identity events
       come later;
    3. the identity events of the second half;
    4. the referral events of the last quarter, and every ``redeliver_every``-th input again (duplicates).

    Identity events keep their order among themselves (one partition, one writer: they never reorder), and
    so do the referral events of one key."""
    half, three_quarters = len(inputs) // 2, 3 * len(inputs) // 4
    identity = [i for i in inputs if i.identity]
    referral = [i for i in inputs if not i.identity]
    return [
        [i for i in identity if i.index < half],
        [i for i in referral if i.index < three_quarters],
        [i for i in identity if i.index >= half],
        [i for i in referral if i.index >= three_quarters] + list(inputs[::redeliver_every]),
    ]


def publish(
    bootstrap: str, names: Mapping[str, str], inputs: Sequence[CanonicalInput], ledger: Ledger, phase: int
) -> None:
    """Send ``inputs`` with their natural timestamps; every acked send goes in ``ledger``."""
    sender: KafkaProducer = producer(bootstrap, "reliability-canonical", linger_ms=20)
    try:
        futures = [
            sender.send(names[i.topic], value=i.value, key=i.key, timestamp_ms=T0_MS + i.index)
            for i in inputs
        ]
        sender.flush(timeout=120)
        for i, future in zip(inputs, futures, strict=True):
            meta = future.get(timeout=60)
            ledger.add(Acked(i.topic, meta.topic, meta.partition, meta.offset, phase))
    finally:
        sender.close(timeout=10)


def alert_ids(bootstrap: str, topic: str) -> Counter[str]:
    """How often each alert id was published on ``topic`` (read_committed, to its end)."""
    reader: KafkaConsumer = consumer(bootstrap, None, "reliability-alerts")
    try:
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        assert tps, f"no partitions for {topic}"
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        ids: Counter[str] = Counter()
        deadline = time.monotonic() + 60
        while any(reader.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, "could not read the alerts topic to its end"
            for batch in reader.poll(timeout_ms=200).values():
                ids.update(dict(m.headers)["ce_id"].decode() for m in batch)
        return ids
    finally:
        reader.close()


WORKER = [str(Path(sys.executable).with_name("joinedup")), "run", "person-view"]


class PersonViewProcess:
    """The person view worker as a process over one data folder and one topic prefix, and the CLI's
    ``projections hash`` / ``projections rebuild`` over the same."""

    def __init__(
        self, bootstrap: str, prefix: str, data_dir: Path, logs: Path, batch_size: int = 200
    ) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JOINEDUP_PROJECTIONS_DATA_DIR": str(data_dir),
            "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": prefix,
            "JOINEDUP_PROJECTIONS_BATCH_SIZE": str(batch_size),
        }
        self.data_dir = data_dir
        self.log = logs / f"person-view-{data_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def store(self) -> Path:
        return self.data_dir / "projections" / "person-view.sqlite"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(WORKER, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> int:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc is not None else 0
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=30)

    def _query(self, sql: str) -> int:
        if not self.store.exists():
            return 0
        db = sqlite3.connect(f"{self.store.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            return int(db.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()

    def progress(self) -> tuple[int, int]:
        """(inputs the store has committed, alerts waiting in its outbox)."""
        consumed = self._query("SELECT coalesce(sum(next_offset), 0) FROM consumed_offsets")
        return consumed, self._query("SELECT count(*) FROM outbox")

    def processed_ids(self) -> set[str]:
        db = sqlite3.connect(f"{self.store.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            return {row[0] for row in db.execute("SELECT event_id FROM pv_processed")}
        finally:
            db.close()

    def wait_caught_up(self, total: int, timeout_s: float = 180) -> float:
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            proc = self.proc
            assert proc is not None
            assert proc.poll() is None, "the person view worker stopped:\n" + self.log.read_text()[-3000:]
            consumed, pending = self.progress()
            if consumed >= total and pending == 0:
                return time.monotonic() - started
            assert time.monotonic() < deadline, f"the person view stalled at {consumed}/{total}, {pending}"
            time.sleep(0.1)

    def cli(self, *args: str) -> str:
        """``joinedup projections <args> --data-dir <its folder>``; its standard output."""
        command = [str(Path(sys.executable).with_name("joinedup")), "projections", *args]
        done = subprocess.run(
            [*command, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return done.stdout.decode().strip()

    def view_hash(self) -> str:
        return self.cli("hash")

    def rebuild(self) -> str:
        self.cli("rebuild")
        return self.view_hash()


def reference_alerts(count: int, seed: int) -> dict[str, str]:
    """The pure projector (in-memory store) over the stream in natural order: each alert id it raises, with
    the event id of the input that raised it."""
    store = MemoryPersonViewStore()
    projector = PersonViewProjector(store)
    raised: dict[str, str] = {}
    for n, event in enumerate(synthetic_stream(count, seed=seed)):
        for alert in projector.apply(event, from_kafka_timestamp(T0_MS + n)):
            raised[str(alert.envelope.event_id)] = str(event.envelope.event_id)
    return raised


def view_without_alerts(store: Path) -> str:
    """The canonical hash of a person view store with every person's alerts left out: persons, records,
    items, held records and aliases only."""
    db = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    digest = hashlib.sha256()
    try:
        for line in canonical_lines(SqlitePersonViewStore(db)):
            value = json.loads(line)
            if value[0] == "person":
                value[1].pop("alerts", None)
            digest.update(canonical_json(value) + b"\n")
    finally:
        db.close()
    return digest.hexdigest()
