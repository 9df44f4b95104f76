"""Throughput of one referral worker: publish N referral submissions on fresh (prefixed) intake topics, run
one worker until every submission is consumed and every output is relayed, print events/s.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python bench/referral_throughput.py --count 20000

Inputs/s counts submissions consumed; outputs/s counts records published (canonical events + receipts).

The per-submission CPU budget by stage comes first: the same submissions run in-process (no broker) through
the runtime's ``ShardProcessor`` with each stage timed in CPU seconds (``time.process_time``): decode (bytes
-> contract model, all defensive checks), handle (the referral handler: mapping, validation, decision, state
reads and buffered writes), encode (outputs -> Avro bytes + headers), outbox append, and the rest of the batch
transaction (offsets, commit). The Kafka run then reports the worker's CPU per submission; what it spends
beyond the in-process stages is the Kafka clients: fetching and the transactional relay.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from figures import load_average

from joinedup.contract.kafka import admin_client, apply_topics, producer
from joinedup.contract.keys import intake_key
from joinedup.contract.models import intake as contract_intake
from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import RawRecord, ShardProcessor, StreamRuntime
from joinedup.contract.topics import catalog, intake_topic
from joinedup.referral.app.testing import NOW, a_person, a_referral
from joinedup.referral.bootstrap import ReferralSettings, build_runtime, handler_factory

F = TypeVar("F", bound=Callable[..., Any])

REFERRERS = ("probation", "police", "nhs-mh-trust", "youth-offending")
RECEIVERS = ("council-housing", "council-asc", "jobcentre")


def submissions(count: int) -> list[tuple[str, str, bytes]]:
    """(agency, key, encoded ReferralSubmission) for ``count`` referrals of distinct persons."""
    codec = default_codec()
    out = []
    for i in range(count):
        by = REFERRERS[i % len(REFERRERS)]
        submission = a_referral(
            f"R-{i}", by=by, to_agency=RECEIVERS[i % len(RECEIVERS)], subject=a_person(f"P-{i}")
        )
        record = contract_intake.ReferralSubmission.model_validate(submission.model_dump())
        out.append((by, intake_key(record, by), codec.encode(record)))
    return out


def publish(bootstrap: str, names: dict[str, str], count: int) -> None:
    out = producer(bootstrap, "bench-agencies", linger_ms=20, batch_size=262_144)
    for by, key, value in submissions(count):
        out.send(names[intake_topic(by)], value=value, key=key.encode())
    out.flush(timeout=120)
    out.close()


def stage_budget(count: int, batch: int = 1000) -> float:
    """Print the in-process CPU per submission by stage; returns the total (seconds per submission)."""
    timestamp_ms = int(NOW.timestamp() * 1000)
    raws = [
        RawRecord(intake_topic(by), 0, i // len(REFERRERS), timestamp_ms, key.encode(), value)
        for i, (by, key, value) in enumerate(submissions(count))
    ]
    spent: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: F) -> F:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - began

        return wrapper  # type: ignore[return-value]

    with tempfile.TemporaryDirectory() as root:
        store = ShardStore(Path(root) / "shard.sqlite")
        handler = handler_factory()(store.connection, 0)
        codec = Codec()  # its own instance: the wrapper below must not stay on the process-wide codec
        processor = ShardProcessor(
            store,
            handler,
            topic_names={n: n for n in catalog().names()},
            group="bench",
            source="bench",
            codec=codec,
        )
        codec.decode_many = timed("decode", codec.decode_many)  # type: ignore[method-assign]
        handler.handle = timed("handle", handler.handle)  # type: ignore[method-assign]
        processor._publication = timed("encode", processor._publication)  # type: ignore[method-assign]
        store.append = timed("outbox append", store.append)  # type: ignore[method-assign]
        began = time.process_time()
        for start in range(0, count, batch):
            processor.process(raws[start : start + batch])
        total = time.process_time() - began
        store.close()
    print(f"in-process, {count} submissions in batches of {batch} (CPU per submission):\n")
    print("| stage | CPU us |\n|---|---:|")
    for name, seconds in [*spent.items(), ("offsets + commit + rest", total - sum(spent.values()))]:
        print(f"| {name} | {seconds / count * 1e6:.0f} |")
    print(f"| **total in-process** | **{total / count * 1e6:.0f}** ({count / total:,.0f} submissions/s) |\n")
    return total / count


def shard_totals(runtime: StreamRuntime, topics: list[str]) -> tuple[int, int]:
    consumed = pending = 0
    for shard in runtime.shards.values():
        offsets = shard.store.next_offsets()
        consumed += sum(offset for (topic, _), offset in offsets.items() if topic in topics)
        pending += shard.store.pending()
    return consumed, pending


async def measure(
    bootstrap: str, names: dict[str, str], count: int, data_dir: Path
) -> tuple[float, int, float]:
    runtime = build_runtime(
        ReferralSettings(data_dir=data_dir), KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap), names
    )
    topics = [names[intake_topic(agency)] for agency in REFERRERS]
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    started: float | None = None
    cpu_started = 0.0
    first = 0
    while True:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
        consumed, pending = shard_totals(runtime, topics)
        if started is None and consumed > 0:
            started = time.perf_counter()  # the first batch is in: the group has formed
            cpu_started = time.process_time()
            first = consumed
        if consumed >= count and pending == 0:
            break
    elapsed = time.perf_counter() - (started or time.perf_counter())
    cpu = time.process_time() - cpu_started
    published = 2 * (count - first)  # each referral: ReferralReceived + SubmissionAccepted
    stop.set()
    await task
    return elapsed, published, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print(f"load average {load_average()}\n")
    in_process = stage_budget(min(args.count, 5000))
    bootstrap = KafkaSettings().bootstrap_servers
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    renamed = catalog().renamed(prefix)
    admin = admin_client(bootstrap)
    try:
        apply_topics(admin, renamed.values())
    finally:
        admin.close()
    names = {original: spec.name for original, spec in renamed.items()}
    t0 = time.perf_counter()
    publish(bootstrap, names, args.count)
    print(f"published {args.count} submissions in {time.perf_counter() - t0:.1f}s")
    with tempfile.TemporaryDirectory() as data_dir:
        elapsed, outputs, cpu = asyncio.run(measure(bootstrap, names, args.count, Path(data_dir)))
    inputs = outputs // 2
    print(
        f"one worker: {inputs} submissions in {elapsed:.1f}s = {inputs / elapsed:,.0f} submissions/s, "
        f"{outputs / elapsed:,.0f} output events/s (canonical events + receipts, relayed exactly once)"
    )
    per = cpu / max(inputs, 1)
    print(
        f"worker CPU through Kafka: {per * 1e6:.0f} us per submission; beyond the in-process stages "
        f"(Kafka fetch + transactional relay): {(per - in_process) * 1e6:.0f} us. "
        f"Load average {load_average()}"
    )


if __name__ == "__main__":
    main()
