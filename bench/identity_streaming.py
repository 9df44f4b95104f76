"""Identity resolution streaming through Kafka with one worker: per-record latency and records/s.

A seeded synthetic population (joinedup.local.synthetic) is published as canonical events on a fresh,
prefixed ``joinedup.referral.events``; one identity worker (joinedup.projections.identity.worker) resolves
them and relays the identity events exactly once. Two phases:

* backlog: every record is on the topic before the worker starts; records/s from the first committed batch
  to the last identity event relayed, and per-record resolution time (resolve + mapping to Avro models,
  inside the batch transaction) p50 / p99 / max;
* live: the worker is caught up and records arrive at ``--rate`` per second; end-to-end latency from the
  input's Kafka timestamp to its first identity event's Kafka timestamp (publish, fetch, merge, resolve,
  SQLite commit, transactional relay), p50 / p99.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else a throwaway local broker (joinedup.local).

    .venv/bin/python bench/identity_streaming.py                     # 1500 persons (~3,300 records)
    .venv/bin/python bench/identity_streaming.py --persons 500 --live 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
from joinedup.projections.identity.worker import IdentityWorker
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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


def live_latencies(bootstrap: str, topic: str, sent_at: Mapping[str, int]) -> list[float]:
    """Per input: ms from its Kafka timestamp to the Kafka timestamp of its first identity event."""
    reader: KafkaConsumer = consumer(bootstrap, None, "bench-identity-reader")
    first_out: dict[str, int] = {}
    try:
        tp = TopicPartition(topic, 0)
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        end = reader.end_offsets([tp])[tp]
        while reader.position(tp) < end:
            for batch in reader.poll(timeout_ms=500).values():
                for message in batch:
                    event = default_codec().decode(message.value)
                    if isinstance(event, Event) and event.envelope.causation_id is not None:
                        cause = str(event.envelope.causation_id)
                        first_out.setdefault(cause, message.timestamp)
    finally:
        reader.close()
    return [float(first_out[c] - t) for c, t in sent_at.items() if c in first_out]


def publish_live(
    bootstrap: str, names: Mapping[str, str], records: Sequence[SyntheticRecord], first: int, rate: float
) -> dict[str, int]:
    """Publish one record every 1/rate s (in another process: the worker's timings stay its own); returns
    each input's event id -> Kafka timestamp."""
    sender: KafkaProducer = producer(bootstrap, "bench-referral-live", linger_ms=0)
    sent_at: dict[str, int] = {}
    next_at = time.perf_counter()
    try:
        for n, record in enumerate(records, start=first):
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += 1.0 / rate
            event = send(sender, names, record, n, live=True)
            sender.flush(timeout=10)
            sent_at[str(event.envelope.event_id)] = to_kafka_timestamp(event.envelope.recorded_at)
    finally:
        sender.close(timeout=10)
    return sent_at


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
            f"| backlog: per-record resolution (resolve + mapping) | {len(resolve_ms)} | "
            f"{timed / elapsed:,.0f} | {statistics.median(resolve_ms):.2f} | "
            f"{percentile(resolve_ms, 0.99):.2f} | {max(resolve_ms):.2f} |"
        )
        with ProcessPoolExecutor(max_workers=1) as pool:
            sent_at = await asyncio.get_running_loop().run_in_executor(
                pool, publish_live, bootstrap, dict(names), list(arriving), len(backlog), rate
            )
        if arriving:
            await wait_caught_up(worker, task, len(stream))
            await asyncio.sleep(1.0)  # the relay's last transaction
            stop.set()
            await task
            e2e = await asyncio.to_thread(live_latencies, bootstrap, names[IDENTITY_EVENTS], sent_at)
            live_ms = [ns / 1e6 for ns in worker.handler.latencies_ns[len(resolve_ms) :]]
            live_cpu = [ns / 1e6 for ns in worker.handler.cpu_ns[len(resolve_ms) :]]
            print(
                f"| live at {rate:.0f}/s: per-record resolution | {len(live_ms)} | {rate:.0f} | "
                f"{statistics.median(live_ms):.2f} | {percentile(live_ms, 0.99):.2f} | {max(live_ms):.2f} |"
            )
            print(
                f"| live at {rate:.0f}/s: per-record resolution, worker thread CPU time | {len(live_cpu)} | "
                f"{rate:.0f} | {statistics.median(live_cpu):.2f} | {percentile(live_cpu, 0.99):.2f} | "
                f"{max(live_cpu):.2f} |"
            )
            print(
                f"| live at {rate:.0f}/s: end to end (input timestamp -> identity event timestamp) | "
                f"{len(e2e)} | {rate:.0f} | {statistics.median(e2e):.0f} | {percentile(e2e, 0.99):.0f} | "
                f"{max(e2e):.0f} |"
            )
        else:
            stop.set()
            await task
        worker.close()
        print(f"\nworker start-up (store, relay, assignment) {startup:.1f} s; caught up in {elapsed:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1500)
    parser.add_argument("--live", type=int, default=300, help="records published while the worker runs")
    parser.add_argument("--rate", type=float, default=50.0, help="live records per second")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with broker() as bootstrap:
        asyncio.run(run(bootstrap, args.persons, args.live, args.rate, args.batch))


if __name__ == "__main__":
    main()
