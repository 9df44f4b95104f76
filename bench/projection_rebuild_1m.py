"""B4 and B5: rebuild the person view from N canonical events on Kafka (default 1,000,000), and its memory and
disk per million contacts.

The events (joinedup.projections.person_view.event_factory: referrals with status changes, assessments with
repeats, contacts reported twice, identity events with merges) are generated once into throwaway prefixed
topics on the broker of ``KAFKA_BOOTSTRAP_SERVERS`` (referral events keyed by record on
``joinedup.referral.events``, identity events on ``joinedup.identity.events``; Kafka timestamps one
millisecond apart in generation order). Then ``joinedup projections rebuild`` runs as a child process, the
real command: it replays both topics from offset 0 through the person view worker's replay path (fetch,
ordered merge, decode, project, SQLite commit per batch) into a fresh file and renames it into place.
Measured: wall and CPU time of the child, its peak RSS (``ru_maxrss``), the file's size, and per million
contacts. Optionally ``joinedup projections hash`` of the result.

Projections rebuilt: the person view (with its repeat-assessment alerts). The identity store is not rebuilt
here: it is rebuilt from the person records on ``joinedup.referral.events`` by the identity worker's replay
(bench/identity_streaming.py gives its records/s and its store's bytes per record).

    .venv/bin/python bench/projection_rebuild_1m.py                       # 1,000,000 events
    .venv/bin/python bench/projection_rebuild_1m.py --events 100000 --hash
    .venv/bin/python bench/projection_rebuild_1m.py --reuse bench1a2b3c4d. --keep   # topics made earlier
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.kafka import admin_client, apply_topics, producer
from joinedup.contract.models.event import Event
from joinedup.contract.models.identity import PersonCreated, PersonsMerged, PersonSplit, RecordLinked
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import IDENTITY_EVENTS, REFERRAL_EVENTS, catalog
from joinedup.projections.person_view.event_factory import iter_synthetic_stream

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
IDENTITY_KINDS = (PersonCreated, RecordLinked, PersonsMerged, PersonSplit)
JOINEDUP = [str(Path(sys.executable).with_name("joinedup"))]


def make_topics(bootstrap: str, prefix: str) -> None:
    admin = admin_client(bootstrap)
    try:
        report = apply_topics(admin, catalog().renamed(prefix).values())
    finally:
        admin.close()
    if not report.ok:
        raise SystemExit(f"topic drift: {report.drift}")


def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = admin_client(bootstrap)
    try:
        admin.delete_topics([prefix + name for name in catalog().names()])
    finally:
        admin.close()


def generate(bootstrap: str, prefix: str, count: int) -> tuple[Counter[str], float, int]:
    """Publish ``count`` events; returns their kinds, the seconds it took and the bytes published."""
    codec = default_codec()
    sender: KafkaProducer = producer(bootstrap, "bench-rebuild-feed", linger_ms=50, batch_size=1_048_576)
    kinds: Counter[str] = Counter()
    size = 0
    started = time.perf_counter()
    try:
        for n, event in enumerate(iter_synthetic_stream(count)):
            kinds[event.envelope.event_type] += 1
            value = codec.encode(event)
            size += len(value)
            at = to_kafka_timestamp(T0 + timedelta(milliseconds=n))
            if isinstance(event, IDENTITY_KINDS):
                sender.send(prefix + IDENTITY_EVENTS, value=value, key=_person_key(event), timestamp_ms=at)
            else:
                subject = event.envelope.subject
                key = f"{subject.agency}/{subject.local_person_id}" if subject else str(n)
                sender.send(prefix + REFERRAL_EVENTS, value=value, key=key.encode(), timestamp_ms=at)
        sender.flush(timeout=600)
    finally:
        sender.close(timeout=60)
    return kinds, time.perf_counter() - started, size


def _person_key(event: Event) -> bytes:
    return str(getattr(event, "person_id", event.envelope.event_id)).encode()


def run_child(args: list[str], env: dict[str, str]) -> tuple[str, float, float, int]:
    """Run ``joinedup <args>``; returns its output, wall s, CPU s and peak RSS (KiB) of this child alone."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([*JOINEDUP, *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"joinedup {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout.strip(), wall, cpu, after.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--reuse", help="a topic prefix generated earlier with the same --events")
    parser.add_argument("--contacts", type=int, default=0, help="with --reuse: how many were ContactRecorded")
    parser.add_argument("--keep", action="store_true", help="keep the topics (default: delete them)")
    parser.add_argument("--hash", action="store_true", help="also time `joinedup projections hash`")
    parser.add_argument(
        "--generate-only", action="store_true", help="publish the events and stop (keeps them)"
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise SystemExit("set KAFKA_BOOTSTRAP_SERVERS (the events go to throwaway topics on that broker)")

    prefix = args.reuse or f"bench{uuid.uuid4().hex[:8]}."
    print(f"(topics {prefix}*)")
    kinds: Counter[str] = Counter()
    try:
        if args.reuse is None:
            make_topics(bootstrap, prefix)
            kinds, generated, size = generate(bootstrap, prefix, args.events)
            print(f"(generated {args.events:,} events, {size / 1e6:,.0f} MB of Avro, in {generated:.0f} s)\n")
            if args.generate_only:
                print(f"kinds: {dict(sorted(kinds.items()))}")
                return
        with tempfile.TemporaryDirectory() as data_dir:
            env = {
                **os.environ,
                "JOINEDUP_PROJECTIONS_DATA_DIR": data_dir,
                "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": prefix,
            }
            load_before = Path("/proc/loadavg").read_text().split()[0]
            out, wall, cpu, rss_kib = run_child(["projections", "rebuild"], env)
            load_after = Path("/proc/loadavg").read_text().split()[0]
            store = Path(data_dir) / "projections" / "person-view.sqlite"
            size_mb = store.stat().st_size / 1e6
            hashed = run_child(["projections", "hash"], env) if args.hash else None
    finally:
        if not args.keep and not args.generate_only:
            delete_topics(bootstrap, prefix)

    contacts = kinds.get("ContactRecorded", 0) or args.contacts
    print("## B4 / B5: person view rebuild from Kafka (`joinedup projections rebuild`)\n")
    if kinds:
        print(
            f"- events: {sum(kinds.values()):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))})"
        )
    print(f"- rebuild: {out}")
    print(
        f"- **{wall:.0f} s wall = {args.events / wall:,.0f} events/s** (target: 1M in < 180 s); "
        f"{cpu:.0f} s CPU = {args.events / cpu:,.0f} events/s of CPU; "
        f"load average {load_before} -> {load_after}"
    )
    print(
        f"- peak RSS of the rebuild process: {rss_kib / 1024:,.0f} MiB; person view file: {size_mb:,.0f} MB"
    )
    if contacts:
        per = 1e6 / contacts
        print(
            f"- per million contacts ({contacts:,} ContactRecorded among the events, the rest in "
            "proportion): "
            f"file {size_mb * per / 1000:,.2f} GB, peak RSS {rss_kib / 1024 * per:,.0f} MiB "
            "(RSS is mostly the 256 MiB page cache of the rebuild and does not grow in proportion)"
        )
    if hashed is not None:
        print(f"- `joinedup projections hash`: {hashed[1]:.0f} s ({hashed[0][:16]}...)")
    print(f"\n`{' '.join(sys.argv)}` on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
