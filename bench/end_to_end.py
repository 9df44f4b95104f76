"""B1 and B2 end to end: intake -> referral worker -> identity worker -> person view worker, each its own
process on this machine, over the synthetic city's submissions (several agencies, identity noise).

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 .venv/bin/python bench/end_to_end.py --persons 3000

- Each service alone: the whole city is published first; then the referral worker runs alone until it has
  consumed every intake record, then the identity worker alone over the canonical events, then the person view
  alone over canonical + identity events. Rate = input records / time from its first consumed batch to its
  last (the process's CPU seconds per input are printed beside it).
- B1: on fresh topics, the three workers run while the city is published flat out; a submission counts when
  the person view has consumed every canonical and identity event (its store's offsets reach the
  read_committed end of both topics). Sustained rate = submissions / (first send -> view caught up); the
  stage that finishes last is the bottleneck.
- B2: on the same pipeline, a second city is published at 25 / 50 / 75 % of B1's rate while held-out
  assessments that repeat an earlier equivalent one (``repeat_pairs``) are sent among them; latency = the
  ``RepeatAssessmentDetected`` naming the probe, read read_committed, minus its send time.

Progress is read from the workers' SQLite stores (``consumed_offsets``, ``outbox``), never from the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from figures import load_average, percentile, process_cpu_seconds
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.keys import intake_key
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.sdk import SubmissionBuilder
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS, catalog, intake_topic
from joinedup.local.simulate import unchecked_record
from joinedup.local.synthetic.city import ANSWERS, FIRST_HAND, City, CitySubmission, build_city, repeat_pairs

PYTHON = sys.executable
JOINEDUP = str(Path(PYTHON).with_name("joinedup"))

Message = tuple[str, bytes, bytes]
"""(real topic, key, value)"""


# ---------------------------------------------------------------- one projections worker in its own process


def run_role(role: str) -> None:
    """``--role identity`` / ``--role view``: one projections worker alone (what ``joinedup run projections``
    runs as two tasks of one process), settings from the environment."""
    from joinedup.projections.bootstrap import identity_worker, person_view_worker, serve
    from joinedup.projections.settings import ProjectionsSettings

    settings, kafka = ProjectionsSettings(), KafkaSettings()
    worker = identity_worker(settings, kafka) if role == "identity" else person_view_worker(settings, kafka)
    try:
        asyncio.run(serve(worker))
    finally:
        worker.close()


# ---------------------------------------------------------------- the city as intake messages


def city_messages(city: City, names: Mapping[str, str], skip: set[tuple[str, str]]) -> list[Message]:
    """Every submission of the city (first-hand reports, then answers), encoded as its agency's SDK would,
    except those whose (agency, assessment_ref) is in ``skip``."""
    builders: dict[str, SubmissionBuilder] = {}
    out: list[Message] = []
    for phase in (FIRST_HAND, ANSWERS):
        for agency in city.agencies:
            builder = builders.setdefault(agency, SubmissionBuilder(agency))
            for s in city.for_agency(agency, phase):
                if (agency, s.item.get("assessment_ref", "")) in skip:
                    continue
                out.append(encoded(s, builder, names))
    return out


def encoded(s: CitySubmission, builder: SubmissionBuilder, names: Mapping[str, str]) -> Message:
    record = builder.build_all([dict(s.item)])[0] if s.valid else unchecked_record(s, builder.clock)
    topic = names[intake_topic(s.agency)]
    return topic, intake_key(record, s.agency).encode(), default_codec().encode(record)


def send_all(out: KafkaProducer, messages: Sequence[Message], rate: float | None = None) -> float:
    """Send (flat out, or paced at ``rate``/s); returns the time of the first send."""
    began = time.perf_counter()
    for i, (topic, key, value) in enumerate(messages):
        if rate is not None:
            lag = began + i / rate - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
        out.send(topic, value=value, key=key)
    out.flush(timeout=300)
    return began


# ---------------------------------------------------------------- progress from the stores


@dataclass(frozen=True)
class Stage:
    name: str
    stores: tuple[Path, ...]
    inputs: tuple[str, ...]
    """Real topic names it consumes."""


def positions(stage: Stage) -> tuple[dict[tuple[str, int], int], int]:
    """(next offset per consumed input partition, rows waiting in the outboxes) from the stage's stores."""
    wanted = set(stage.inputs)
    found: dict[tuple[str, int], int] = {}
    pending = 0
    for path in stage.stores:
        if not path.exists():
            continue
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = db.execute("SELECT topic, partition, next_offset FROM consumed_offsets").fetchall()
            found.update({(str(t), int(p)): int(o) for t, p, o in rows if t in wanted})
            pending += int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError:  # tables not created yet
            pass
        finally:
            db.close()
    return found, pending


def end_offsets(reader: KafkaConsumer, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """The read_committed end offset (last stable offset) of every partition of ``topics``."""
    tps = [TopicPartition(t, p) for t in topics for p in sorted(reader.partitions_for_topic(t) or {0})]
    return {(tp.topic, tp.partition): int(end) for tp, end in reader.end_offsets(tps).items()}


def caught_up(found: Mapping[tuple[str, int], int], ends: Mapping[tuple[str, int], int], slack: int) -> bool:
    """Every partition read to within ``slack`` of its end (on a transactional topic the last offsets are
    commit or abort markers, which no consumer position needs to pass)."""
    return all(end == 0 or found.get(tp, 0) >= end - slack for tp, end in ends.items())


def wait_stage(
    stage: Stage, reader: KafkaConsumer, pid: int, cpu_from: float | None = None, timeout_s: float = 900
) -> tuple[float, float, float]:
    """Wait until the stage has consumed its inputs to their end and emptied its outbox. Returns the times
    (perf_counter) of its first and last progress and the CPU seconds process ``pid`` spent in between. On a
    transactional input the end is "no move for 2 s, within 3 offsets of the last stable offset" (markers),
    dated by the last move."""
    first: float | None = None
    cpu_first = cpu_last = 0.0
    deadline = time.monotonic() + timeout_s
    before: dict[tuple[str, int], int] = {}
    last_move = time.perf_counter()
    slack, quiet = (0, 0.0) if stage.name == "referral" else (3, 2.0)
    while time.monotonic() < deadline:
        found, pending = positions(stage)
        now = time.perf_counter()
        if found != before:
            if first is None:
                first, cpu_first = now, process_cpu_seconds(pid)
            last_move, before, cpu_last = now, found, process_cpu_seconds(pid)
            cpu_first = cpu_first if cpu_from is None else cpu_from
        if (
            first is not None
            and pending == 0
            and now - last_move >= quiet
            and caught_up(found, end_offsets(reader, stage.inputs), slack)
        ):
            return first, last_move, cpu_last - cpu_first
        time.sleep(0.2)
    raise TimeoutError(f"{stage.name} did not catch up")


def count_records(reader: KafkaConsumer, topic: str) -> int:
    """Records (not offsets: transaction markers take offsets too) on ``topic``, read read_committed."""
    tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or {0})]
    reader.assign(tps)
    reader.seek_to_beginning(*tps)
    ends = reader.end_offsets(tps)
    total = 0
    while any(reader.position(tp) < ends[tp] for tp in tps):
        total += sum(len(batch) for batch in reader.poll(timeout_ms=500, max_records=5000).values())
    return total


# ---------------------------------------------------------------- the pipeline


class Pipeline:
    """Topics under a fresh prefix, a data folder, and the three worker processes."""

    def __init__(self, bootstrap: str, root: Path, label: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = f"e2e{uuid.uuid4().hex[:8]}."
        renamed = catalog().renamed(self.prefix)
        admin = admin_client(bootstrap)
        try:
            apply_topics(admin, renamed.values())
        finally:
            admin.close()
        self.names = {original: spec.name for original, spec in renamed.items()}
        self.data = root / label
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = root / f"{label}-logs"
        self.logs.mkdir(parents=True)
        intake = tuple(sorted(self.names[n] for n in self.names if n.startswith("joinedup.intake.")))
        projections = self.data / "projections"
        self.stages = {
            "referral": Stage(
                "referral", tuple(self.data / "referral" / f"shard-{i}.sqlite" for i in range(64)), intake
            ),
            "identity": Stage("identity", (projections / "identity.sqlite",), (self.names[REFERRAL_EVENTS],)),
            "view": Stage(
                "person view",
                (projections / "person-view.sqlite",),
                (self.names[REFERRAL_EVENTS], self.names[IDENTITY_EVENTS]),
            ),
        }

    def start(self, role: str) -> None:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "JOINEDUP_REFERRAL_DATA_DIR": str(self.data),
            "JOINEDUP_REFERRAL_TOPIC_PREFIX": self.prefix,
            "JOINEDUP_PROJECTIONS_DATA_DIR": str(self.data),
            "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": self.prefix,
        }
        command = [JOINEDUP, "run", "referral"] if role == "referral" else [PYTHON, __file__, "--role", role]
        log = (self.logs / f"{role}.log").open("wb")
        self.processes[role] = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, reader: KafkaConsumer, timeout_s: float) -> None:
        """Until the referral worker has opened a shard per intake partition (its group has formed) and the
        projections workers have created their stores."""
        shards = len(reader.partitions_for_topic(self.stages["referral"].inputs[0]) or {0})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            opened = sum(path.exists() for path in self.stages["referral"].stores)
            others = all(path.exists() for role in ("identity", "view") for path in self.stages[role].stores)
            if opened >= shards and others:
                time.sleep(1.0)
                return
            time.sleep(0.2)
        raise TimeoutError("the workers did not start")

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.terminate()
        for proc in self.processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def alone(bootstrap: str, root: Path, city: City, skip: set[tuple[str, str]]) -> None:
    pipe = Pipeline(bootstrap, root, "alone")
    reader: KafkaConsumer = consumer(bootstrap, None, "bench-e2e-offsets")
    try:
        messages = city_messages(city, pipe.names, skip)
        out = producer(bootstrap, "bench-e2e", linger_ms=20, batch_size=262_144)
        send_all(out, messages)
        out.close()
        print(f"\n{len(messages)} intake records pre-published ({len(city.agencies)} agencies)\n")
        print("| service alone | input records | seconds | records/s | CPU ms per record | load average |")
        print("|---|---:|---:|---:|---:|---|")
        inputs = {"referral": len(messages)}
        for role in ("referral", "identity", "view"):
            pipe.start(role)
            first, last, cpu = wait_stage(pipe.stages[role], reader, pipe.processes[role].pid)
            if role == "referral":
                inputs["identity"] = count_records(reader, pipe.names[REFERRAL_EVENTS])
            if role == "identity":
                inputs["view"] = inputs["identity"] + count_records(reader, pipe.names[IDENTITY_EVENTS])
            n = inputs[role]
            seconds = max(last - first, 1e-6)
            print(
                f"| {role} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {cpu / n * 1000:.2f} | "
                f"{load_average()} |"
            )
    finally:
        reader.close()
        pipe.stop()


# ---------------------------------------------------------------- B1 and B2


@dataclass(frozen=True)
class Probe:
    agency: str
    ref: str
    message: Message


def probes_of(city: City, names: Mapping[str, str], count: int) -> list[Probe]:
    """Held-out first reports of assessments that repeat an earlier equivalent one of the same person."""
    builder: dict[str, SubmissionBuilder] = {}
    seen: set[tuple[str, str]] = set()
    probes: list[Probe] = []
    for _, later in repeat_pairs(city):
        key = (later.agency, later.item["assessment_ref"])
        if key in seen:
            continue
        seen.add(key)
        first = next(
            s
            for s in city.submissions
            if s.agency == later.agency and s.item.get("assessment_ref") == later.item["assessment_ref"]
        )
        agency_builder = builder.setdefault(first.agency, SubmissionBuilder(first.agency))
        probes.append(Probe(first.agency, key[1], encoded(first, agency_builder, names)))
        if len(probes) == count:
            break
    return probes


def end_to_end(bootstrap: str, root: Path, city: City, background: City, args: argparse.Namespace) -> None:
    pipe = Pipeline(bootstrap, root, "e2e")
    reader: KafkaConsumer = consumer(bootstrap, None, "bench-e2e-offsets")
    try:
        probes = probes_of(city, pipe.names, 3 * args.probes)
        skip = {(p.agency, p.ref) for p in probes}
        messages = city_messages(city, pipe.names, skip)
        load = city_messages(background, pipe.names, set())
        for role in ("referral", "identity", "view"):
            pipe.start(role)
        pipe.wait_ready(reader, args.warmup)
        out = producer(bootstrap, "bench-e2e", linger_ms=5, batch_size=262_144)
        cpu_from = {role: process_cpu_seconds(proc.pid) for role, proc in pipe.processes.items()}
        began = send_all(out, messages)
        sent_s = time.perf_counter() - began
        finished, cpu = {}, {}
        for role in ("referral", "identity", "view"):
            pid = pipe.processes[role].pid
            _, last, cpu[role] = wait_stage(pipe.stages[role], reader, pid, cpu_from[role])
            finished[role] = last - began
        rate = len(messages) / finished["view"]
        print(f"\n## B1: {len(messages):,} submissions end to end, load average {load_average()}\n")
        print(f"published in {sent_s:.1f} s; each stage caught up after (s from the first send):")
        for role, seconds in finished.items():
            per = cpu[role] / len(messages) * 1e6
            print(f"- {role}: {seconds:.1f} s, CPU {cpu[role]:.1f} s ({per:.0f} us per submission)")
        print(f"\n**sustained end to end: {rate:,.0f} submissions/s** (bottleneck: the stage caught up last)")
        b2(pipe, out, probes, load, rate, args)
        out.close()
    finally:
        reader.close()
        pipe.stop()


def b2(
    pipe: Pipeline,
    out: KafkaProducer,
    probes: list[Probe],
    load: list[Message],
    b1_rate: float,
    args: argparse.Namespace,
) -> None:
    print("\n## B2: ingest -> alert (probe send -> RepeatAssessmentDetected read read_committed)\n")
    print("| offered load | submissions/s | alerts / probes | p50 ms | p99 ms | max ms | load average |")
    print("|---|---:|---:|---:|---:|---:|---|")
    codec = default_codec()
    cursor = 0
    for share, chunk in zip((0.25, 0.5, 0.75), range(3), strict=True):
        mine = probes[chunk * args.probes : (chunk + 1) * args.probes]
        rate = share * b1_rate
        n = min(int(rate * args.seconds), len(load) - cursor)
        stream = load[cursor : cursor + n]
        cursor += n
        received: dict[tuple[str, str], float] = {}
        reader: KafkaConsumer = consumer(pipe.bootstrap, None, "bench-e2e-alerts")
        topic = pipe.names[ALERTS]
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or {0})]
        reader.assign(tps)
        reader.seek_to_end(*tps)
        for tp in tps:
            reader.position(tp)
        stop = threading.Event()

        def collect(
            reader: KafkaConsumer = reader,
            received: dict[tuple[str, str], float] = received,
            stop: threading.Event = stop,
        ) -> None:
            while not stop.is_set():
                for batch in reader.poll(timeout_ms=20).values():
                    for message in batch:
                        alert = codec.decode(message.value)
                        if isinstance(alert, RepeatAssessmentDetected):
                            received.setdefault((alert.trigger.agency, alert.trigger.ref), time.time())

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        every = max(len(stream) // max(len(mine), 1), 1)
        timeline: list[Message | Probe] = []
        for i, message in enumerate(stream):
            if i % every == 0 and len([t for t in timeline if isinstance(t, Probe)]) < len(mine):
                timeline.append(mine[len([t for t in timeline if isinstance(t, Probe)])])
            timeline.append(message)
        sent: dict[tuple[str, str], float] = {}
        began = time.perf_counter()
        total = len(timeline)
        for i, item in enumerate(timeline):
            lag = began + i / (rate or 1) - time.perf_counter()
            if lag > 0:
                time.sleep(lag)
            if isinstance(item, Probe):
                sent[(item.agency, item.ref)] = time.time()
                out.send(item.message[0], value=item.message[2], key=item.message[1])
            else:
                out.send(item[0], value=item[2], key=item[1])
        out.flush(timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(received) < len(sent):
            time.sleep(0.2)
        stop.set()
        collector.join()
        reader.close()
        lat = sorted((received[k] - sent[k]) * 1000 for k in sent if k in received)
        offered = total / max(time.perf_counter() - began, 1e-6)
        figures = (
            f"{percentile(lat, 0.5):.0f} | {percentile(lat, 0.99):.0f} | {lat[-1]:.0f}"
            if lat
            else "- | - | -"
        )
        print(
            f"| {share:.0%} of B1 | {offered:,.0f} | {len(lat)}/{len(sent)} | {figures} | {load_average()} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("identity", "view"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--persons", type=int, default=3000, help="synthetic city size (about 7 submissions each)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--probes", type=int, default=40, help="B2 probes per load level")
    parser.add_argument("--seconds", type=float, default=20, help="B2 seconds per load level")
    parser.add_argument("--warmup", type=float, default=120, help="most seconds to wait for the workers")
    parser.add_argument("--skip-alone", action="store_true")
    args = parser.parse_args()
    if args.role:
        run_role(args.role)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the worker processes on the way out
    bootstrap = KafkaSettings().bootstrap_servers
    city = build_city(seed=args.seed, persons=args.persons)
    background = build_city(seed=args.seed + 1000, persons=args.persons)
    print(
        f"bench/end_to_end.py: city of {args.persons:,} persons (seed {args.seed}), "
        f"load average {load_average()}"
    )
    with tempfile.TemporaryDirectory() as root:
        if not args.skip_alone:
            alone(bootstrap, Path(root), city, set())
        end_to_end(bootstrap, Path(root), city, background, args)


if __name__ == "__main__":
    main()
