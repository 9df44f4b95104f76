"""R7: replay from offset 0 gives the same result.

- The referral service: the intake log of a run is copied record for record (same partitions, offsets, keys,
  values, headers and timestamps: the copies' intake topics take the producer's timestamp, which is the
  original's broker timestamp) to fresh topics, and a fresh worker with a fresh data folder processes it:
  copied in the original phases, and copied all at once, its canonical events and receipts are byte-identical
  to the first run's (as a multiset: shards interleave on the output partitions). The worker merges a shard's
  intake partitions by broker timestamp, so a response is handled after the referral it answers whenever
  the log is read. The first run equals the reference fold of its ledger.
- The identity worker, over the first run's canonical events: replayed from offset 0 into a fresh data folder
  (``replay``: handle everything, publish nothing), it makes byte-identical identity events in the same order
  as the live worker published; and a live worker started on another fresh data folder publishes them all
  again, byte-identical and in the same order (the ordered workers' relay renumbers a rebuilt store's rows;
  the referral runtime's skips them instead, see R4)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from kafka import KafkaProducer

from joinedup.contract.kafka import producer
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import IDENTITY_EVENTS, REFERRAL_EVENTS, receipts_topic
from joinedup.projections.bootstrap import identity_worker
from joinedup.projections.settings import ProjectionsSettings

from .harness import (
    Coords,
    Ledger,
    LedgerPublisher,
    LogRecord,
    Report,
    Workers,
    check,
    fresh_topics,
    intake_total,
    read_log,
    referral_group,
    referral_workload,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]


def copy_log(
    bootstrap: str, log: Sequence[LogRecord], source: Mapping[str, str], target: Mapping[str, str]
) -> None:
    """Every record to the same partition of the target's topic, with its key, value, headers and
    timestamp."""
    catalog_of = {real: name for name, real in source.items()}
    sender: KafkaProducer = producer(bootstrap, "reliability-copy", linger_ms=20)
    try:
        for r in log:
            sender.send(
                target[catalog_of[r.topic]],
                value=r.value,
                key=r.key,
                headers=list(r.headers),
                partition=r.partition,
                timestamp_ms=r.timestamp_ms,
            )
        sender.flush(timeout=60)
    finally:
        sender.close(timeout=10)


def referral_outputs(
    bootstrap: str, names: Mapping[str, str], agencies: Sequence[str]
) -> list[tuple[object, ...]]:
    """The canonical events and receipts as (catalog topic, partition, key, value, headers), sorted."""
    topics = {names[REFERRAL_EVENTS]: REFERRAL_EVENTS}
    topics.update((names[receipts_topic(a)], receipts_topic(a)) for a in agencies)
    return sorted(
        (topics[r.topic], r.partition, r.key, r.value, r.headers) for r in read_log(bootstrap, topics)
    )


def view_hash(records: Sequence[tuple[object, ...]]) -> str:
    digest = hashlib.sha256()
    for record in records:
        digest.update(repr(record).encode())
    return digest.hexdigest()


def run_identity_worker(bootstrap: str, names: Mapping[str, str], data_dir: Path, batch_size: int) -> None:
    """An identity worker in a thread of its own (its event loop), stopped once it has caught up."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []
    caught_up = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            worker = identity_worker(
                ProjectionsSettings(data_dir=data_dir, batch_size=batch_size),
                KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap),
                names,
            )
            try:

                async def run() -> None:
                    task = asyncio.create_task(worker.run(stop))
                    await worker.caught_up.wait()
                    caught_up.set()
                    await task

                loop.run_until_complete(run())
            finally:
                worker.close()
        except BaseException as exc:
            failure.append(exc)
        finally:
            caught_up.set()
            loop.close()

    thread = threading.Thread(target=main, name="identity-worker", daemon=True)
    thread.start()
    try:
        assert caught_up.wait(timeout=180), "the identity worker did not catch up"
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
    assert not thread.is_alive(), "the identity worker did not stop"
    if failure:
        raise failure[0]


def replay_identity_worker(
    bootstrap: str, names: Mapping[str, str], data_dir: Path, batch_size: int
) -> list[bytes]:
    """The identity events a worker replaying from offset 0 into ``data_dir`` makes (its outbox, in order)."""
    worker = identity_worker(
        ProjectionsSettings(data_dir=data_dir, batch_size=batch_size),
        KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap),
        names,
    )
    try:
        asyncio.run(worker.replay())
        return [row.publication.value for row in worker.store.unsent(1, 1_000_000)]
    finally:
        worker.close()


@dataclass(frozen=True)
class Replays:
    report: Report
    original: list[tuple[object, ...]]
    in_phases: list[tuple[object, ...]]
    all_at_once: list[tuple[object, ...]]
    identity_once: list[bytes]
    identity_twice: list[bytes]
    identity_replayed: list[bytes]


def replay(
    bootstrap: str,
    log: Sequence[LogRecord],
    names: Mapping[str, str],
    phases: Sequence[set[Coords]],
    agencies: Sequence[str],
    tmp: Path,
) -> tuple[list[tuple[object, ...]], float]:
    """Copy ``log`` to fresh topics phase by phase (each once the worker has caught up with the one before),
    run a fresh worker over it; returns its outputs and how long it took."""
    prefix, copy = fresh_topics(bootstrap, copy=True)
    topics = sorted({copy[n] for n, real in names.items() if real in {r.topic for r in log}})
    workers = Workers(bootstrap, prefix, tmp / prefix / "data", tmp / prefix / "logs", batch_size=37)
    started = time.monotonic()
    try:
        for n, phase in enumerate(phases):
            copy_log(bootstrap, [r for r in log if r.coords in phase], names, copy)
            if n == 0:
                workers.start()
            workers.wait_caught_up(topics, intake_total(bootstrap, topics))
    finally:
        workers.stop_all()
    return referral_outputs(bootstrap, copy, agencies), time.monotonic() - started


@pytest.fixture(scope="module")
def replays(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Replays:
    tmp = tmp_path_factory.mktemp("r7")
    prefix, names = fresh_topics(kafka_bootstrap)
    work = referral_workload(7, 400)
    ledger = Ledger()
    agencies = LedgerPublisher(kafka_bootstrap, names, ledger)
    first = Workers(kafka_bootstrap, prefix, tmp / "first", tmp / "logs", batch_size=300)
    try:
        for phase in range(len(work.phases)):
            agencies.publish_phase(work, phase)
            if phase == 0:
                first.start()
            topics = ledger.topics()
            first.wait_caught_up(topics, intake_total(kafka_bootstrap, topics))
    finally:
        first.stop_all()
        agencies.close()

    log = read_log(kafka_bootstrap, ledger.topics())
    by_phase = [{e.coords for e in ledger.entries if e.phase == p} for p in range(len(work.phases))]
    in_phases, replayed_in = replay(kafka_bootstrap, log, names, by_phase, ledger.agencies(), tmp)
    all_at_once, _ = replay(kafka_bootstrap, log, names, [set().union(*by_phase)], ledger.agencies(), tmp)

    report = check(
        "R7 replay from offset 0",
        kafka_bootstrap,
        names,
        ledger,
        referral_group(prefix),
        recover_s=replayed_in,
    )
    original = referral_outputs(kafka_bootstrap, names, ledger.agencies())
    identity = names[IDENTITY_EVENTS]
    run_identity_worker(kafka_bootstrap, names, tmp / "identity-1", batch_size=50)
    once = [r.value for r in read_log(kafka_bootstrap, [identity])]
    run_identity_worker(kafka_bootstrap, names, tmp / "identity-2", batch_size=7)
    twice = [r.value for r in read_log(kafka_bootstrap, [identity])]
    replayed = replay_identity_worker(kafka_bootstrap, names, tmp / "identity-3", batch_size=7)
    report.detail.update(
        {
            "referral_view_hash": view_hash(original)[:16],
            "replayed_in_phases_hash": view_hash(in_phases)[:16],
            "replayed_all_at_once_hash": view_hash(all_at_once)[:16],
            "records_that_differ_all_at_once": sum(
                (
                    (Counter(original) - Counter(all_at_once)) + (Counter(all_at_once) - Counter(original))
                ).values()
            ),
            "identity_events": len(once),
            "identity_replay_identical": replayed == once,
            "identity_run_twice_identical": twice[len(once) :] == once,
        }
    )
    return Replays(report, original, in_phases, all_at_once, once, twice, replayed)


def test_the_referral_outputs_equal_the_reference_fold_of_the_ledger(
    replays: Replays, record_report: list[Report]
) -> None:
    record_report.append(replays.report)
    assert replays.report.passed, replays.report
    assert len(replays.original) == replays.report.outputs > 1_000


def test_a_replay_from_offset_0_in_the_original_phases_gives_byte_identical_referral_outputs(
    replays: Replays,
) -> None:
    assert replays.in_phases == replays.original


def test_a_replay_from_offset_0_of_the_whole_log_at_once_gives_byte_identical_referral_outputs(
    replays: Replays,
) -> None:
    assert replays.all_at_once == replays.original


def test_the_identity_worker_replayed_from_offset_0_makes_byte_identical_identity_events_in_order(
    replays: Replays,
) -> None:
    assert len(replays.identity_once) > 100
    assert replays.identity_replayed == replays.identity_once


def test_the_identity_worker_run_twice_from_offset_0_publishes_byte_identical_identity_events(
    replays: Replays,
) -> None:
    assert len(replays.identity_twice) == 2 * len(replays.identity_once)
    assert replays.identity_twice[len(replays.identity_once) :] == replays.identity_once
