"""Broker-test tools: publish domain sample submissions on (prefixed) intake topics, run a referral worker in
a background thread, read topics with read_committed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from joinedup.contract.kafka import consumer, producer
from joinedup.contract.keys import IntakeRecord, intake_key
from joinedup.contract.models import intake as contract_intake
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import StreamRuntime
from joinedup.contract.topics import intake_topic
from joinedup.referral.bootstrap import ReferralSettings, build_runtime
from joinedup.referral.domain.submissions import Submission


def to_contract(submission: Submission) -> IntakeRecord:
    """A domain sample submission as the contract's intake record (what an agency publishes)."""
    model: Any = getattr(contract_intake, type(submission).__name__)
    record: IntakeRecord = model.model_validate(submission.model_dump())
    return record


@dataclass(frozen=True)
class Sent:
    agency: str
    record: IntakeRecord


class Agencies:
    """Publishes like agency systems do: each on its own intake topic, keyed by ``intake_key``."""

    def __init__(self, bootstrap: str, topics: Mapping[str, str]) -> None:
        self.topics = topics
        self._producer: KafkaProducer = producer(bootstrap, "test-agencies", linger_ms=20)

    def publish(
        self, agency: str, submission: Submission | IntakeRecord, timestamp_ms: int | None = None
    ) -> IntakeRecord:
        record = to_contract(submission) if not isinstance(submission, AvroRecord) else submission
        self._producer.send(
            self.topics[intake_topic(agency)],
            value=default_codec().encode(record),
            key=intake_key(record, agency).encode(),
            timestamp_ms=timestamp_ms,
        )
        return record

    def publish_raw(self, agency: str, key: bytes, value: bytes) -> None:
        self._producer.send(self.topics[intake_topic(agency)], value=value, key=key)

    def flush(self) -> None:
        self._producer.flush(timeout=60)

    def close(self) -> None:
        self._producer.close(timeout=10)


@dataclass(frozen=True)
class Read:
    key: str
    record: AvroRecord
    headers: dict[str, bytes]
    partition: int
    offset: int


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[Sequence[Read]], bool],
    timeout_s: float = 60,
    settle_s: float = 0.0,
) -> list[Read]:
    """Every committed record on ``topic`` (read_committed), polling until ``until(records)`` holds, then
    ``settle_s`` more seconds (to see anything extra)."""
    reader: KafkaConsumer = consumer(bootstrap, None, "test-reader")
    try:
        parts = None
        deadline = time.monotonic() + 30
        while not parts and time.monotonic() < deadline:
            parts = reader.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        assert parts, f"no partitions for {topic}"
        reader.assign([TopicPartition(topic, p) for p in sorted(parts)])
        reader.seek_to_beginning()
        out: list[Read] = []
        deadline = time.monotonic() + timeout_s
        settled: float | None = None
        while True:
            for batch in reader.poll(timeout_ms=200).values():
                for m in batch:
                    out.append(
                        Read(
                            m.key.decode() if m.key else "",
                            default_codec().decode(m.value),
                            {k: v for k, v in m.headers},
                            m.partition,
                            m.offset,
                        )
                    )
            now = time.monotonic()
            if settled is None and until(out):
                settled = now + settle_s
            if settled is not None and now >= settled:
                return out
            if now > deadline:
                return out
    finally:
        reader.close()


@contextmanager
def running_worker(
    bootstrap: str, topics: Mapping[str, str], data_dir: Path, **settings: Any
) -> Iterator[StreamRuntime]:
    """A referral worker running in a background thread (its own event loop) until the block ends."""
    runtime = build_runtime(
        ReferralSettings(data_dir=data_dir, **settings),
        KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap),
        topics,
    )
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runtime.run(stop))
        except BaseException as exc:
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="referral-worker", daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
    assert not thread.is_alive(), "the worker did not stop"
    if failure:
        raise failure[0]
