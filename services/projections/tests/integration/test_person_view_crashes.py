"""Issue 7: kill -9 of the person view worker at seeded random moments during a 10,000-event stream, restart
it each time: the view's canonical hash equals that of an uninterrupted run, and the alerts topic holds every
alert of the uninterrupted run exactly once.

The same canonical inputs (referral + identity events, some delivered twice) go to two sets of prefixed
topics, one per run: each run has its own alerts topic and its own relay position (the relay's anchor is the
run's identity topic), so the two runs share nothing but the bytes of their inputs."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer, topic_offsets
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS, catalog
from joinedup.projections.bootstrap import person_view_hash
from joinedup.projections.person_view.event_factory import keyed_synthetic_stream
from joinedup.projections.person_view.worker import store_path

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

SEED = 20261122
EVENTS = 10_000
REDELIVERED_EVERY = 101
"""Every 101st event is delivered twice (an at-least-once producer upstream)."""
T0_MS = to_kafka_timestamp(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
"""Kafka timestamps of the inputs: fixed, so both runs (and every test run) read the very same records."""

WORKER = [str(Path(sys.executable).with_name("joinedup")), "run", "person-view"]
"""The person view worker alone (``joinedup run projections`` would also run the identity worker, which
would publish identity events of its own next to the ones this test publishes)."""


def canonical_inputs() -> list[tuple[str, bytes, bytes]]:
    """(catalog topic, key, value) in publication order: identity events keyed by person id, referral events
    by their subject's record (a referral's status events by the record the referral is about)."""
    codec = default_codec()
    inputs: list[tuple[str, bytes, bytes]] = []
    for n, (topic, key, event) in enumerate(keyed_synthetic_stream(EVENTS, seed=SEED)):
        value = codec.encode(event)
        inputs.append((topic, key.encode(), value))
        if n % REDELIVERED_EVERY == REDELIVERED_EVERY - 1:
            inputs.append((topic, key.encode(), value))
    return inputs


def prefixed_catalog(bootstrap: str, prefix: str) -> dict[str, str]:
    """The whole topic catalog under ``prefix`` (as the ``catalog_topics`` fixture makes it)."""
    renamed = catalog().renamed(prefix)
    admin = admin_client(bootstrap)
    try:
        report = apply_topics(admin, renamed.values())
    finally:
        admin.close()
    assert report.ok, report.drift
    return {original: spec.name for original, spec in renamed.items()}


def publish(bootstrap: str, topics: Mapping[str, str], inputs: list[tuple[str, bytes, bytes]]) -> int:
    """The inputs on the run's topics, 1 ms apart (an idempotent producer keeps their order). Returns the
    number of records the worker has to consume."""
    sender: KafkaProducer = producer(bootstrap, "test-person-view-crashes", linger_ms=20)
    try:
        for n, (topic, key, value) in enumerate(inputs):
            sender.send(topics[topic], value=value, key=key, timestamp_ms=T0_MS + n)
        sender.flush(timeout=120)
    finally:
        sender.close(timeout=10)
    ends = [topic_offsets(bootstrap, topics[name]) for name in (REFERRAL_EVENTS, IDENTITY_EVENTS)]
    total = sum(sum(end.values()) for end in ends)
    assert total == len(inputs)
    return total


def progress(data_dir: Path) -> tuple[int, int]:
    """(inputs the store has committed, alerts waiting in its outbox); (0, 0) before it made its tables."""
    path = store_path(data_dir)
    if not path.exists():
        return 0, 0
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        consumed = db.execute("SELECT coalesce(sum(next_offset), 0) FROM consumed_offsets").fetchone()[0]
        pending = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        return int(consumed), int(pending)
    except sqlite3.OperationalError:
        return 0, 0
    finally:
        db.close()


@dataclass
class WorkerProcess:
    """The person view worker as a process over one data folder and one topic prefix."""

    bootstrap: str
    prefix: str
    data_dir: Path
    batch_size: int
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    killed_at: list[int] = field(default_factory=list)
    """The store's committed inputs after each kill."""

    def start(self) -> None:
        self.starts += 1
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "JOINEDUP_PROJECTIONS_DATA_DIR": str(self.data_dir),
            "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": self.prefix,
            "JOINEDUP_PROJECTIONS_BATCH_SIZE": str(self.batch_size),
        }
        with (self.logs / f"worker-{self.data_dir.name}-{self.starts}.log").open("wb") as log:
            self.proc = subprocess.Popen(WORKER, env=env, stdout=log, stderr=subprocess.STDOUT)

    def running(self) -> subprocess.Popen[bytes]:
        proc = self.proc
        assert proc is not None
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited by itself ({proc.returncode}):\n{self.log_tail()}")
        return proc

    def kill(self) -> None:
        proc = self.running()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        self.kills += 1
        self.killed_at.append(progress(self.data_dir)[0])

    def wait_for(self, consumed: int, *, relayed: bool = False, timeout_s: float = 180) -> None:
        """Until the store has committed ``consumed`` inputs (and, with ``relayed``, its outbox is empty)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.running()
            done, pending = progress(self.data_dir)
            if done >= consumed and (pending == 0 or not relayed):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker stalled at {done} inputs, {pending} alerts pending")
            time.sleep(0.02)

    def stop(self) -> int:
        """SIGTERM (a clean stop); returns the exit status."""
        proc = self.running()
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60)

    def ensure_stopped(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

    def log_tail(self) -> str:
        return (self.logs / f"worker-{self.data_dir.name}-{self.starts}.log").read_text()[-3000:]


def alert_ids(bootstrap: str, topic: str) -> list[str]:
    """The event id of every committed alert on ``topic`` (every partition, read to its end)."""
    reader: KafkaConsumer = consumer(bootstrap, None, "test-person-view-crashes-alerts")
    codec = default_codec()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        assert tps, f"no partitions for {topic}"
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        ids: list[str] = []
        deadline = time.monotonic() + 60
        while any(reader.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, "could not read the alerts topic to its end"
            for batch in reader.poll(timeout_ms=200).values():
                for message in batch:
                    alert = codec.decode(message.value)
                    assert isinstance(alert, RepeatAssessmentDetected)
                    ids.append(str(alert.envelope.event_id))
        return ids
    finally:
        reader.close()


def test_a_person_view_worker_killed_at_random_moments_ends_with_the_view_and_alerts_of_an_uninterrupted_run(
    kafka_bootstrap: str, catalog_topics: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    inputs = canonical_inputs()
    assert len(inputs) >= EVENTS
    killed_prefix = unique_prefix.rstrip(".") + "k."
    killed_topics = prefixed_catalog(kafka_bootstrap, killed_prefix)
    total = publish(kafka_bootstrap, catalog_topics, inputs)
    assert publish(kafka_bootstrap, killed_topics, inputs) == total

    # ---- the uninterrupted run
    clean = WorkerProcess(kafka_bootstrap, unique_prefix, tmp_path / "clean", 500, tmp_path)
    try:
        clean.start()
        clean.wait_for(total, relayed=True)
        assert clean.stop() == 0
    finally:
        clean.ensure_stopped()
    clean_hash = person_view_hash(clean.data_dir)
    clean_alerts = alert_ids(kafka_bootstrap, catalog_topics[ALERTS])
    assert len(clean_alerts) > 100  # repeat assessments in the stream raise alerts...
    assert Counter(clean_alerts).most_common(1)[0][1] == 1  # ...each once

    # ---- the killed run: smaller batches (more commits and relay transactions to land a kill in)
    killed = WorkerProcess(kafka_bootstrap, killed_prefix, tmp_path / "killed", 200, tmp_path)
    try:
        killed.start()
        killed.wait_for(int(rng.uniform(0.1, 0.25) * total))
        time.sleep(rng.uniform(0.0, 0.3))  # anywhere in the next batches: mid-commit, mid-relay...
        killed.kill()

        killed.start()  # killed again within a second of the restart, still starting up
        time.sleep(rng.uniform(0.2, 0.9))
        killed.kill()

        killed.start()  # killed again within a second of resuming: its relay publishing the leftovers
        killed.wait_for(killed.killed_at[-1] + 1)
        time.sleep(rng.uniform(0.0, 0.5))
        killed.kill()

        for low, high in ((0.4, 0.6), (0.7, 0.9)):
            killed.start()
            killed.wait_for(int(rng.uniform(low, high) * total))
            time.sleep(rng.uniform(0.0, 0.3))
            killed.kill()

        killed.start()
        killed.wait_for(total, relayed=True)
        assert killed.stop() == 0
    finally:
        killed.ensure_stopped()

    assert killed.kills == 5
    assert all(done < total for done in killed.killed_at), killed.killed_at  # every kill was mid-stream
    assert killed.killed_at[0] > 0
    assert killed.killed_at[-1] > killed.killed_at[0]
    assert person_view_hash(killed.data_dir) == clean_hash
    published = Counter(alert_ids(kafka_bootstrap, killed_topics[ALERTS]))
    assert [i for i, n in published.items() if n > 1] == []  # none twice...
    assert set(published) == set(clean_alerts)  # ...none missing, none extra
