"""Broker-test tools for the identity worker: publish a synthetic population as canonical events, run the
worker in a thread (its own event loop) until it has caught up, read the identity topic (read_committed)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from typer.testing import CliRunner

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.kafka import consumer, producer
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import REFERRAL_EVENTS
from joinedup.local.synthetic import SyntheticPopulation
from joinedup.projections.bootstrap import identity_worker
from joinedup.projections.entrypoints.cli import register
from joinedup.projections.identity.canonical_feed import canonical_event
from joinedup.projections.identity.worker import IdentityWorker
from joinedup.projections.settings import ProjectionsSettings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""Kafka timestamps of the feed (fixed: a replay must see the very same input)."""


def publish_population(
    bootstrap: str, topics: Mapping[str, str], population: SyntheticPopulation, *, transaction_size: int = 0
) -> int:
    """Every observation of the population as a canonical event on the referral topic, one second apart,
    keyed by its record. With ``transaction_size``, in Kafka transactions of that many records (as the
    referral service's relay writes: commit markers between them). Returns how many."""
    options = {"transactional_id": f"test-referral-{topics[REFERRAL_EVENTS]}"} if transaction_size else {}
    sender: KafkaProducer = producer(bootstrap, "test-referral-events", linger_ms=20, **options)
    try:
        stream = population.stream()
        if transaction_size:
            sender.init_transactions()
        for n, record in enumerate(stream):
            if transaction_size and n % transaction_size == 0:
                if n:
                    sender.commit_transaction()
                sender.begin_transaction()
            at = T0 + timedelta(seconds=n)
            sender.send(
                topics[REFERRAL_EVENTS],
                value=default_codec().encode(canonical_event(record.agency, record.person_record(), n, at)),
                key=f"{record.agency}/{record.local_person_id}".encode(),
                timestamp_ms=to_kafka_timestamp(at),
            )
        if transaction_size:
            sender.commit_transaction()
        sender.flush(timeout=60)
        return len(stream)
    finally:
        sender.close(timeout=10)


@dataclass
class Running:
    worker: IdentityWorker | None = None

    thread: threading.Thread | None = None

    def wait_caught_up(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.thread is not None and not self.thread.is_alive():
                return  # it stopped: leaving the block re-raises why
            worker = self.worker
            if worker is not None and worker.caught_up.is_set():
                return
            time.sleep(0.1)
        raise AssertionError("the identity worker did not catch up")


@contextmanager
def running_identity_worker(
    bootstrap: str, topics: Mapping[str, str], data_dir: Path, **settings: object
) -> Iterator[Running]:
    """An identity worker in a background thread (built there: its SQLite connection lives there)."""
    running = Running()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            worker = identity_worker(
                ProjectionsSettings(data_dir=data_dir, **settings),  # type: ignore[arg-type]
                KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap),
                topics,
            )
            running.worker = worker
            try:
                loop.run_until_complete(worker.run(stop))
            finally:
                worker.close()
        except BaseException as exc:
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="identity-worker", daemon=True)
    running.thread = thread
    thread.start()
    try:
        yield running
    finally:
        if not loop.is_closed():  # the worker may have stopped by itself (failure holds why)
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
    assert not thread.is_alive(), "the worker did not stop"
    if failure:
        raise failure[0]


def read_values(
    bootstrap: str, topic: str, *, at_least: int, timeout_s: float = 60, settle_s: float = 2
) -> list[bytes]:
    """The value bytes of every committed record on ``topic`` (one partition), waiting for ``at_least`` of
    them, then ``settle_s`` more seconds to see anything extra."""
    reader: KafkaConsumer = consumer(bootstrap, None, "test-identity-reader")
    try:
        tp = TopicPartition(topic, 0)
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        settled: float | None = None
        while True:
            for batch in reader.poll(timeout_ms=200).values():
                values.extend(m.value for m in batch)
            now = time.monotonic()
            if settled is None and len(values) >= at_least:
                settled = now + settle_s
            if (settled is not None and now >= settled) or now > deadline:
                return values
    finally:
        reader.close()


def cli(args: list[str], env: Mapping[str, str]) -> str:
    """Run ``joinedup <args>`` with this package's commands; returns stdout (fails on a non-zero exit)."""
    import typer

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, args, env=dict(env))
    assert result.exit_code == 0, result.output
    return result.stdout
