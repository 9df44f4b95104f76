"""Identity resolution streaming through Kafka with one worker: per-record latency and records/s.

A seeded synthetic population (joinedup.local.synthetic) is published as canonical events on a fresh,
prefixed ``joinedup.referral.events``; one identity worker (joinedup.projections.identity.worker) resolves
them and relays the identity events exactly once. Two phases:

* backlog: every record is on the topic before the worker starts; records/s from the first committed batch
  to the last identity event relayed, and per-record resolution time (resolve + mapping to Avro models,
  inside the batch transaction) p50 / p99 / max;
* live: the worker is caught up and records arrive at ``--rate`` per second (published by another process).
  Three latencies, each per input record (the worker's timeline, joinedup.projections.worker_timeline):
  (a) resolution latency: from the worker holding the record (the poll returned it) to its decision being
  durable (the SQLite transaction with state, offsets and outbox committed);
  (b) the same to its identity events being published (the relay's Kafka transaction committed);
  (c) end to end: from the input being handed to the producer to its first identity event reaching a
  ``read_committed`` consumer in a third process (wall clocks of one machine);
  and where (a) and (b) go, stage by stage.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a throwaway local broker (joinedup.local).

    .venv/bin/python bench/identity_streaming.py                     # 1500 persons (~3,900 records)
    .venv/bin/python bench/identity_streaming.py --persons 500 --live 300 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import percentile
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.models.event import Event
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import IDENTITY_EVENTS, REFERRAL_EVENTS, catalog
from joinedup.local.synthetic import SyntheticRecord, generate_population
from joinedup.local.test_broker import session_broker
from joinedup.projections.bootstrap import identity_worker
from joinedup.projections.identity.canonical_feed import canonical_event
from joinedup.projections.identity.worker import IdentityWorker, store_path
from joinedup.projections.settings import ProjectionsSettings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@contextlib.contextmanager
def broker() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with tempfile.TemporaryDirectory() as root, session_broker(Path(root)) as session:
        yield session.bootstrap


def topics(bootstrap: str) -> dict[str, str]:
    renamed = catalog().renamed(f"bench{uuid.uuid4().hex[:8]}.")
    admin = admin_client(bootstrap)
    try:
        report = apply_topics(admin, renamed.values())
    finally:
        admin.close()
    if not report.ok:
        raise SystemExit(f"topic drift: {report.drift}")
    return {original: spec.name for original, spec in renamed.items()}


def send(
    sender: KafkaProducer, names: Mapping[str, str], record: SyntheticRecord, n: int, live: bool
) -> Event:
    at = datetime.now(UTC) if live else T0 + timedelta(seconds=n)
    event = canonical_event(record.agency, record.person_record(), n, at)
    sender.send(
        names[REFERRAL_EVENTS],
        value=default_codec().encode(event),
        key=f"{record.agency}/{record.local_person_id}".encode(),
        timestamp_ms=to_kafka_timestamp(at),
    )
    return event


async def wait_caught_up(
    worker: IdentityWorker, task: asyncio.Task[None], at_least: int
) -> tuple[float, int]:
    """(seconds from the first committed batch to caught up with the outbox relayed, records in that time)."""
    first: float | None = None
    first_count = 0
    while True:
        await asyncio.sleep(0.005)
        if task.done():
            task.result()
        if first is None and worker.processed > 0:
            first, first_count = time.perf_counter(), worker.processed
        if worker.processed >= at_least and worker.caught_up.is_set():
            return time.perf_counter() - (first or time.perf_counter()), worker.processed - first_count


def read_live(bootstrap: str, topic: str, ready: Any, done: Any) -> dict[str, int]:
    """(In another process.) Read the identity events ``read_committed`` from the topic's current end until
    ``done`` is set and the end is reached; returns input event id -> ``time.time_ns()`` when the first
    identity event it caused reached this reader."""
    reader = LiveReader(bootstrap, topic)
    first_seen: dict[str, int] = {}
    try:
        ready.set()
        while True:
            finished = done.is_set()
            for message in reader.poll():
                received = time.time_ns()
                event = default_codec().decode(message.value)
                if isinstance(event, Event) and event.envelope.causation_id is not None:
                    first_seen.setdefault(str(event.envelope.causation_id), received)
            if finished and reader.at_end():
                return first_seen
    finally:
        reader.close()


class LiveReader:
    """A kafka-python ``read_committed`` reader of one topic's partition 0, from its end at start."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer: KafkaConsumer = consumer(
            bootstrap, None, "bench-identity-reader", isolation_level="read_committed", fetch_max_wait_ms=50
        )
        self.tp = TopicPartition(topic, 0)
        self.consumer.assign([self.tp])
        self.consumer.seek_to_end(self.tp)
        self.consumer.position(self.tp)

    def poll(self) -> list[Any]:
        return [m for batch in self.consumer.poll(timeout_ms=50).values() for m in batch]

    def at_end(self) -> bool:
        end = self.consumer.end_offsets([self.tp])[self.tp]
        return bool(self.consumer.position(self.tp) >= end)

    def close(self) -> None:
        self.consumer.close()


def publish_live(
    bootstrap: str, names: Mapping[str, str], records: Sequence[SyntheticRecord], first: int, rate: float
) -> dict[str, int]:
    """Publish one record every 1/rate s (in another process: the worker's timings stay its own); returns
    each input's event id -> ``time.time_ns()`` just before it was handed to the producer."""
    sender: KafkaProducer = producer(bootstrap, "bench-referral-live", linger_ms=0)
    sent_at: dict[str, int] = {}
    next_at = time.perf_counter()
    try:
        for n, record in enumerate(records, start=first):
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += 1.0 / rate
            at = datetime.now(UTC)
            event = canonical_event(record.agency, record.person_record(), n, at)
            value = default_codec().encode(event)
            sent_at[str(event.envelope.event_id)] = time.time_ns()
            sender.send(
                names[REFERRAL_EVENTS],
                value=value,
                key=f"{record.agency}/{record.local_person_id}".encode(),
                timestamp_ms=to_kafka_timestamp(at),
            )
            sender.flush(timeout=10)
    finally:
        sender.close(timeout=10)
    return sent_at


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_size(data_dir: Path, records: int) -> str:
    """B5 for the identity store: its file (checkpointed) per record and per million records."""
    path = store_path(data_dir)
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        outbox = int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        db.close()
    size = path.stat().st_size
    return (
        f"identity store: {size / 1e6:.1f} MB for {records:,} records ({outbox} outbox rows left) = "
        f"{size / records:,.0f} bytes per record, {size / records:,.0f} MB per million records "
        "(the worker keeps the whole state in memory too: see peak RSS)"
    )


def row(label: str, values: Sequence[float], rate: str) -> str:
    if not values:
        return f"| {label} | 0 | {rate} | - | - | - |"
    return (
        f"| {label} | {len(values)} | {rate} | {statistics.median(values):.2f} | "
        f"{percentile(values, 0.99):.2f} | {max(values):.2f} |"
    )


async def run(bootstrap: str, persons: int, live: int, rate: float, batch: int) -> None:
    names = topics(bootstrap)
    population = generate_population(31, persons)
    stream = population.stream()
    backlog, arriving = stream[: len(stream) - live], stream[len(stream) - live :]
    sender: KafkaProducer = producer(bootstrap, "bench-referral-events", linger_ms=5)
    for n, record in enumerate(backlog):
        send(sender, names, record, n, live=False)
    sender.flush(timeout=60)
    sender.close(timeout=10)
    with tempfile.TemporaryDirectory() as data_dir:
        started = time.perf_counter()
        worker = identity_worker(
            ProjectionsSettings(data_dir=Path(data_dir), batch_size=batch),
            KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap),
            names,
            measure=True,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        elapsed, timed = await wait_caught_up(worker, task, len(backlog))
        startup = time.perf_counter() - started - elapsed
        resolve_ms = [ns / 1e6 for ns in worker.handler.latencies_ns]
        print(f"## Identity resolution streaming through Kafka (one worker, batch {batch})\n")
        print(f"{persons} persons, {len(stream)} records ({len(backlog)} backlog + {len(arriving)} live)\n")
        print("| phase | records | records/s (through Kafka) | p50 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|---:|")
        print(
            row("backlog: per-record resolution (resolve + mapping)", resolve_ms, f"{timed / elapsed:,.0f}")
        )
        if not arriving:
            stop.set()
            await task
            worker.close()
            print(
                f"\nworker start-up (store, relay, assignment) {startup:.1f} s; caught up in {elapsed:.1f} s"
            )
            return
        loop = asyncio.get_running_loop()
        cpu = time.process_time()
        with multiprocessing.Manager() as manager, ProcessPoolExecutor(max_workers=2) as pool:
            ready, done = manager.Event(), manager.Event()
            reading = loop.run_in_executor(pool, read_live, bootstrap, names[IDENTITY_EVENTS], ready, done)
            while not ready.is_set():
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)  # the reader's first fetch is in flight
            wall = time.perf_counter()
            sent_at = await loop.run_in_executor(
                pool, publish_live, bootstrap, dict(names), list(arriving), len(backlog), rate
            )
            await wait_caught_up(worker, task, len(stream))
            live_wall, live_cpu_s = time.perf_counter() - wall, time.process_time() - cpu
            done.set()
            seen = await reading
        stop.set()
        await task
        timings = worker.timeline.timings()[len(backlog) :] if worker.timeline is not None else []
        live_ms = [ns / 1e6 for ns in worker.handler.latencies_ns[len(resolve_ms) :]]
        live_cpu = [ns / 1e6 for ns in worker.handler.cpu_ns[len(resolve_ms) :]]
        label = f"{rate:.0f}"
        print(row("live: resolver alone (resolve + mapping), wall", live_ms, label))
        print(row("live: resolver alone, worker thread CPU time", live_cpu, label))
        print(
            row(
                "live (a) resolution latency: worker holds record -> decision durable (SQLite commit)",
                [t.durable_ms for t in timings],
                label,
            )
        )
        published = [t.published_ms for t in timings if t.batch_outputs]
        print(
            row(
                "live (b) worker holds record -> its events published (Kafka transaction committed), "
                "records that caused events",
                [p for p in published if p is not None],
                label,
            )
        )
        e2e = [(seen[c] - t) / 1e6 for c, t in sent_at.items() if c in seen]
        print(
            row(
                "live (c) input handed to producer -> identity event read by a read_committed consumer",
                e2e,
                label,
            )
        )
        print()
        print("Where (a) and (b) go, live (ms):\n")
        print("| stage | p50 | p99 | max |")
        print("|---|---:|---:|---:|")
        stages = {
            "input Kafka timestamp -> worker holds it (fetch)": [
                t.held_wall_ns / 1e6 - t.timestamp_ms for t in timings if t.held_wall_ns
            ],
            "held -> released by the merge": [t.merge_wait_ms for t in timings],
            "released -> SQLite commit (decode, resolve, encode, commit)": [
                (t.committed_ns - t.released_ns) / 1e6 for t in timings
            ],
            "the same in worker thread CPU time (what (a) costs on an idle core)": [
                t.batch_cpu_ns / 1e6 for t in timings
            ],
            "SQLite commit -> Kafka transaction committed (batches with output)": [
                (t.published_ns - t.committed_ns) / 1e6
                for t in timings
                if t.published_ns is not None and t.batch_outputs
            ],
            "records per batch": [float(t.batch_size) for t in timings],
            "(a) of the records first in their batch": [
                t.durable_ms for t in timings if t.batch_position == 0
            ],
            "(a) of the records behind others in their batch (they wait for them)": [
                t.durable_ms for t in timings if t.batch_position > 0
            ],
        }
        for name, values in stages.items():
            if values:
                print(
                    f"| {name} | {statistics.median(values):.2f} | {percentile(values, 0.99):.2f} | "
                    f"{max(values):.2f} |"
                )
        behind = sum(t.batch_position > 0 for t in timings)
        print(f"\n{behind} of {len(timings)} live records shared a batch with earlier records")
        print(
            f"\n{len(e2e)} of {len(arriving)} live inputs caused an identity event; worker process CPU "
            f"{live_cpu_s / len(arriving) * 1e3:.2f} ms per live record ({live_cpu_s:.1f} s over "
            f"{live_wall:.1f} s); load average {Path('/proc/loadavg').read_text().split()[0]}; "
            f"peak RSS of the worker's process {peak_rss_mib():.0f} MiB"
        )
        worker.close()
        print(f"worker start-up (store, relay, assignment) {startup:.1f} s; caught up in {elapsed:.1f} s")
        print(store_size(Path(data_dir), len(stream)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1500)
    parser.add_argument("--live", type=int, default=300, help="records published while the worker runs")
    parser.add_argument("--rate", type=float, default=100.0, help="live records per second")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with broker() as bootstrap:
        asyncio.run(run(bootstrap, args.persons, args.live, args.rate, args.batch))


if __name__ == "__main__":
    main()
