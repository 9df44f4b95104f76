"""Throughput of one referral worker: publish N referral submissions on fresh (prefixed) intake topics, run
one worker until every submission is consumed and every output is relayed, print events/s.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 .venv/bin/python bench/referral_throughput.py --count 20000

Inputs/s counts submissions consumed; outputs/s counts records published (canonical events + receipts).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from joinedup.contract.kafka import admin_client, apply_topics, producer
from joinedup.contract.keys import intake_key
from joinedup.contract.models import intake as contract_intake
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import StreamRuntime
from joinedup.contract.topics import catalog, intake_topic
from joinedup.referral.app.testing import a_person, a_referral
from joinedup.referral.bootstrap import ReferralSettings, build_runtime

REFERRERS = ("probation", "police", "nhs-mh-trust", "youth-offending")
RECEIVERS = ("council-housing", "council-asc", "jobcentre")


def publish(bootstrap: str, names: dict[str, str], count: int) -> None:
    codec = default_codec()
    out = producer(bootstrap, "bench-agencies", linger_ms=20, batch_size=262_144)
    for i in range(count):
        by = REFERRERS[i % len(REFERRERS)]
        submission = a_referral(
            f"R-{i}", by=by, to_agency=RECEIVERS[i % len(RECEIVERS)], subject=a_person(f"P-{i}")
        )
        record = contract_intake.ReferralSubmission.model_validate(submission.model_dump())
        out.send(names[intake_topic(by)], value=codec.encode(record), key=intake_key(record, by).encode())
    out.flush(timeout=120)
    out.close()


def shard_totals(runtime: StreamRuntime, topics: list[str]) -> tuple[int, int]:
    consumed = pending = 0
    for shard in runtime.shards.values():
        offsets = shard.store.next_offsets()
        consumed += sum(offset for (topic, _), offset in offsets.items() if topic in topics)
        pending += shard.store.pending()
    return consumed, pending


async def measure(bootstrap: str, names: dict[str, str], count: int, data_dir: Path) -> tuple[float, int]:
    runtime = build_runtime(
        ReferralSettings(data_dir=data_dir), KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap), names
    )
    topics = [names[intake_topic(agency)] for agency in REFERRERS]
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    started: float | None = None
    first = 0
    while True:
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
        consumed, pending = shard_totals(runtime, topics)
        if started is None and consumed > 0:
            started = time.perf_counter()  # the first batch is in: the group has formed
            first = consumed
        if consumed >= count and pending == 0:
            break
    elapsed = time.perf_counter() - (started or time.perf_counter())
    published = 2 * (count - first)  # each referral: ReferralReceived + SubmissionAccepted
    stop.set()
    await task
    return elapsed, published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
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
        elapsed, outputs = asyncio.run(measure(bootstrap, names, args.count, Path(data_dir)))
    inputs = outputs // 2
    print(
        f"one worker: {inputs} submissions in {elapsed:.1f}s = {inputs / elapsed:,.0f} submissions/s, "
        f"{outputs / elapsed:,.0f} output events/s (canonical events + receipts, relayed exactly once)"
    )


if __name__ == "__main__":
    main()
