"""The person view worker and the query API through a real broker: backlog events/s, ingest -> alert latency,
and query latency p50 / p99 / max under an open-loop load at several request rates.

    .venv/bin/python bench/projections_api.py --events 10000 --alerts 40 --rates 50,100,200 --seconds 20

Starts a throwaway broker (or uses KAFKA_BOOTSTRAP_SERVERS), publishes a synthetic stream (canonical referral
events + identity events: the identity worker is not run), runs the person view worker, then:
- ingest -> alert: for fresh persons with a scheduled Care Act s.9 assessment, a carer's assessment (same
  group) is published live at 5/s; latency = alert read (read_committed) - input send time;
- query: the worker stops; the consent service (`joinedup run consent`) and the query API (`joinedup run api`:
  uvicorn on uvloop + httptools, one process) run as processes of their own, as in production. First the CPU
  per operation of each stage of a request is measured here, one at a time (view read, the decision call's
  client side, the audit append alone and eight at once); then this process sends GET /v1/persons/{id} as a
  police caseworker, open loop (each request leaves on schedule whatever is still outstanding, over up to
  256 keep-alive connections), cycling through persons P1..P199, at each rate. Latency is measured from the
  scheduled time. Every request asks the consent service for one batch of decisions and appends its
  AccessRecorded (acks=all, group commit) before it answers; `joinedup audit verify` checks the chain after.
  CPU per request of the API and consent processes comes from /proc (utime + stime); the load average of the
  machine is printed beside each rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvloop
import yaml
from figures import load_average, percentile, process_cpu_seconds
from kafka import KafkaConsumer, TopicPartition

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.models.event import Event
from joinedup.contract.models.identity import PersonCreated, PersonsMerged, PersonSplit, RecordLinked
from joinedup.contract.models.referral import AssessmentScheduled
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import ALERTS, AUDIT_ACCESS, IDENTITY_EVENTS, REFERRAL_EVENTS, catalog
from joinedup.local.broker import free_port
from joinedup.local.supervisor import joinedup_executable
from joinedup.local.test_broker import session_broker
from joinedup.projections.api.decisions import HttpDecisionPort, ask_decisions
from joinedup.projections.api.enforcement import Ask, decision_questions
from joinedup.projections.audit.chain import AccessDraft
from joinedup.projections.audit.recorder import KafkaAuditSink
from joinedup.projections.bootstrap import person_view_path, person_view_worker
from joinedup.projections.person_view.event_factory import (
    assessment,
    person_created,
    record_linked,
    synthetic_stream,
)
from joinedup.projections.person_view.reader_sqlite import ReadOnlySqlitePersonViewReader
from joinedup.projections.person_view.worker import PersonViewWorker
from joinedup.projections.settings import ProjectionsSettings

IDENTITY_TYPES = (PersonCreated, RecordLinked, PersonsMerged, PersonSplit)


def background(
    main: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
) -> tuple[Callable[[], None], list[BaseException]]:
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main(stop))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def halt() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)

    return halt, failure


def send(sender: Any, topic: str, event: Event, timestamp_ms: int | None) -> None:
    subject = event.envelope.subject
    key = f"{subject.agency}/{subject.local_person_id}" if subject else "person"
    sender.send(topic, value=default_codec().encode(event), key=key.encode(), timestamp_ms=timestamp_ms)


def run(bootstrap: str, args: argparse.Namespace, tmp: Path) -> None:
    prefix = f"bench{int(time.time())}."
    renamed = catalog().renamed(prefix)
    admin = admin_client(bootstrap)
    try:
        assert apply_topics(admin, renamed.values()).ok
    finally:
        admin.close()
    names = {original: spec.name for original, spec in renamed.items()}
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=bootstrap)

    events = synthetic_stream(args.events)
    sender = producer(bootstrap, "bench-publisher", linger_ms=20)
    start_ms = to_kafka_timestamp(datetime.now(UTC)) - len(events)
    for n, event in enumerate(events):
        topic = IDENTITY_EVENTS if isinstance(event, IDENTITY_TYPES) else REFERRAL_EVENTS
        send(sender, names[topic], event, start_ms + n)
    sender.flush(timeout=60)

    settings = ProjectionsSettings(data_dir=tmp / "data", topic_prefix=prefix)
    workers: list[PersonViewWorker] = []

    async def worker_main(stop: asyncio.Event) -> None:
        worker = person_view_worker(settings, kafka, names)
        workers.append(worker)
        try:
            await worker.run(stop)
        finally:
            worker.close()

    began = time.perf_counter()
    halt_worker, worker_failure = background(worker_main)
    while not (workers and workers[0].caught_up.is_set() and workers[0].processed >= len(events)):
        if worker_failure:
            raise worker_failure[0]
        time.sleep(0.05)
    backlog_s = time.perf_counter() - began
    print(f"backlog: {len(events)} events in {backlog_s:.1f} s = {len(events) / backlog_s:,.0f} events/s")

    if args.alerts > 0:
        # ---- ingest -> alert
        now = datetime.now(UTC)
        for k in range(args.alerts):
            pid = f"BENCH-{k}"
            send(sender, names[IDENTITY_EVENTS], person_created(pid, "police", f"BP-{k}", when=now), None)
            link = record_linked(pid, "council-asc", f"BA-{k}", to=("police", f"BP-{k}"), when=now)
            send(sender, names[IDENTITY_EVENTS], link, None)
            earlier = assessment(
                AssessmentScheduled, "police", f"BE-{k}", f"BP-{k}", "care-act-s9-needs", when=now
            )
            send(sender, names[REFERRAL_EVENTS], earlier, None)
        sender.flush(timeout=30)
        time.sleep(3)
        received: dict[str, float] = {}
        reader: KafkaConsumer = consumer(bootstrap, None, "bench-alerts")
        tps = [
            TopicPartition(names[ALERTS], p)
            for p in sorted(reader.partitions_for_topic(names[ALERTS]) or {0})
        ]
        reader.assign(tps)
        reader.seek_to_end(*tps)
        for tp in tps:
            reader.position(tp)

        def collect() -> None:
            deadline = time.monotonic() + 60
            while len(received) < args.alerts and time.monotonic() < deadline:
                for batch in reader.poll(timeout_ms=50).values():
                    for message in batch:
                        alert = default_codec().decode(message.value)
                        received.setdefault(getattr(alert, "person_id", ""), time.time())

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        sent: dict[str, float] = {}
        for k in range(args.alerts):
            when = datetime.now(UTC) + timedelta(seconds=1)
            trigger = assessment(
                AssessmentScheduled, "council-asc", f"BT-{k}", f"BA-{k}", "care-act-carers", when=when
            )
            sent[f"BENCH-{k}"] = time.time()
            send(sender, names[REFERRAL_EVENTS], trigger, None)
            sender.flush(timeout=10)
            time.sleep(0.2)
        collector.join()
        reader.close()
        lat = [(received[p] - sent[p]) * 1000 for p in sent if p in received]
        print(
            f"ingest -> alert at 5/s: {len(lat)}/{len(sent)} alerts, p50 {percentile(lat, 0.5):.0f} ms, "
            f"p99 {percentile(lat, 0.99):.0f} ms, max {max(lat):.0f} ms"
        )

    # ---- query latency: the worker stops (the API reads its file); consent and API run as processes
    halt_worker()
    sender.close(timeout=10)
    queries(bootstrap, args, tmp, prefix, settings.data_dir)


def spawn(verb: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [joinedup_executable(), "run", verb], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not start in {timeout_s:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def stages(
    bootstrap: str, consent_url: str, data_dir: Path, audit_topic: str, n: int
) -> dict[str, float]:
    """CPU per operation of each stage of a request, in this process, one at a time (ms)."""
    reader = ReadOnlySqlitePersonViewReader(person_view_path(data_dir))
    views = [v for v in (reader.person(f"P{k}") for k in range(1, 200)) if v is not None]
    ask = Ask(recipient="police", purpose="direct-care", at=datetime.now(UTC))
    asked = [q for q in (list(decision_questions([v], ask).values()) for v in views) if q]
    found: dict[str, float] = {}

    async def measure(name: str, step: Callable[[int], Coroutine[Any, Any, object]]) -> None:
        for k in range(20):
            await step(k)
        began = time.process_time()
        for k in range(n):
            await step(k)
        found[name] = (time.process_time() - began) / n * 1000

    async def read(k: int) -> object:
        return reader.person(views[k % len(views)].person_id)

    await measure("view read (SQLite + model)", read)
    decisions = HttpDecisionPort(consent_url, "admin")
    await decisions.open()

    async def decide(k: int) -> object:
        return await ask_decisions(decisions, asked[k % len(asked)])

    await measure("decision call (client side)", decide)
    await decisions.aclose()
    sink = KafkaAuditSink.connect(bootstrap, topic=audit_topic)
    sink.start()
    await sink.open()
    at = datetime.now(UTC)

    async def append(k: int) -> object:
        draft = AccessDraft(
            request_id=f"stage-{k}",
            at=at,
            user_id="cw-1",
            agency="police",
            role="caseworker",
            purpose="direct-care",
            request="GET /v1/persons/{person_id}",
            person_id=views[k % len(views)].person_id,
            outcome="denied",
        )
        return await sink.append([draft])

    await measure("audit append, alone (chain + encode + acks=all send)", append)

    async def append_eight(k: int) -> object:
        return await asyncio.gather(*(append(8 * k + j) for j in range(8)))

    began = time.process_time()
    for k in range(n // 8):
        await append_eight(k)
    found["audit append, 8 at once (per request)"] = (time.process_time() - began) / (n // 8 * 8) * 1000
    await sink.aclose()
    reader.close()
    return found


async def open_loop(base: str, rate: float, seconds: float, headers: dict[str, str]) -> dict[str, Any]:
    """Send GET /v1/persons/{id} at ``rate`` per second on schedule, whatever is still outstanding (open
    loop); latency = answer time - scheduled time (so a late client does not hide a slow server)."""
    persons = [f"P{n}" for n in range(1, 200)]
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lag: list[float] = []
    stages: dict[str, list[float]] = {}
    in_flight = 0
    most_in_flight = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:

        async def one(n: int, due: float) -> None:
            nonlocal in_flight, most_in_flight
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            try:
                async with session.get(f"/v1/persons/{persons[n % len(persons)]}") as answer:
                    await answer.read()
                    statuses[answer.status] = statuses.get(answer.status, 0) + 1
                    for entry in answer.headers.get("Server-Timing", "").split(","):
                        if ";dur=" in entry:
                            name, _, duration = entry.strip().partition(";dur=")
                            stages.setdefault(name, []).append(float(duration))
            finally:
                in_flight -= 1
            latencies.append((time.perf_counter() - due) * 1000)

        tasks = []
        t0 = time.perf_counter() + 0.05
        for n in range(total):
            due = t0 + n / rate
            pause = due - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            lag.append((time.perf_counter() - due) * 1000)
            tasks.append(asyncio.create_task(one(n, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return {
        "total": total,
        "achieved": total / elapsed,
        "statuses": statuses,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "under_10ms": sum(1 for x in latencies if x < 10) / len(latencies),
        "lag_p99": percentile(lag, 0.99),
        "most_in_flight": most_in_flight,
        "stages": {name: (percentile(v, 0.5), percentile(v, 0.99)) for name, v in stages.items() if v},
    }


def queries(bootstrap: str, args: argparse.Namespace, tmp: Path, prefix: str, data_dir: Path) -> None:
    tokens = tmp / "consent-tokens.yaml"
    tokens.write_text(
        yaml.safe_dump({"tokens": {"admin": {"agency": "police", "user": "a", "role": "admin"}}})
    )
    api_tokens = tmp / "api-tokens.yaml"
    api_tokens.write_text(
        yaml.safe_dump({"tokens": {"cw": {"agency": "police", "user": "cw-1", "role": "caseworker"}}})
    )
    consent_port, api_port = free_port(), free_port()
    consent_url, base = f"http://127.0.0.1:{consent_port}", f"http://127.0.0.1:{api_port}"
    audit_topic = prefix + AUDIT_ACCESS
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    consent = spawn(
        "consent",
        {
            **env,
            "JOINEDUP_CONSENT_DATA_DIR": str(tmp / "consent"),
            "JOINEDUP_CONSENT_TOPIC_PREFIX": prefix,
            "JOINEDUP_CONSENT_API_PORT": str(consent_port),
            "JOINEDUP_CONSENT_TOKENS_FILE": str(tokens),
        },
        tmp / "consent.log",
    )
    api: subprocess.Popen[bytes] | None = None
    try:
        wait_healthy(consent_url, consent)
        # the stages first, alone: their audit appends must not interleave with the API's (one writer)
        budget = uvloop.run(stages(bootstrap, consent_url, data_dir, audit_topic, args.stage_ops))
        print(f"per-request CPU by stage, {args.stage_ops} operations each, load average {load_average()}:")
        for name, ms in budget.items():
            print(f"  {name}: {ms:.2f} ms")
        api = spawn(
            "api",
            {
                **env,
                "JOINEDUP_API_DATA_DIR": str(data_dir),
                "JOINEDUP_API_PORT": str(api_port),
                "JOINEDUP_API_TOKENS_FILE": str(api_tokens),
                "JOINEDUP_API_CONSENT_URL": consent_url,
                "JOINEDUP_API_CONSENT_TOKEN": "admin",
                "JOINEDUP_API_TOPIC_PREFIX": prefix,
            },
            tmp / "api.log",
        )
        wait_healthy(base, api)
        headers = {"Authorization": "Bearer cw", "X-Purpose": "direct-care"}
        uvloop.run(open_loop(base, 20, 3, headers))  # warm-up (connections, first decisions)
        stage_rows: list[str] = []
        stage_names: list[str] = []
        print(
            "| offered load | achieved | requests (200 / 404) | p50 | p99 | max | < 10 ms | most in flight "
            "| API CPU / request | consent CPU / request | load average before → after |"
        )
        print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for rate in args.rates:
            before = load_average()
            api_cpu, consent_cpu = process_cpu_seconds(api.pid), process_cpu_seconds(consent.pid)
            found = uvloop.run(open_loop(base, rate, args.seconds, headers))
            api_ms = (process_cpu_seconds(api.pid) - api_cpu) * 1000 / found["total"]
            consent_ms = (process_cpu_seconds(consent.pid) - consent_cpu) * 1000 / found["total"]
            statuses = found["statuses"]
            others = {k: v for k, v in statuses.items() if k not in (200, 404)}
            print(
                f"| {rate:.0f}/s for {args.seconds:.0f} s | {found['achieved']:.1f}/s "
                f"| {found['total']} ({statuses.get(200, 0)} / {statuses.get(404, 0)}"
                f"{f', other {others}' if others else ''}) "
                f"| {found['p50']:.1f} ms | {found['p99']:.1f} ms | {found['max']:.1f} ms "
                f"| {found['under_10ms']:.1%} | {found['most_in_flight']} "
                f"| {api_ms:.2f} ms | {consent_ms:.2f} ms | {before} → {load_average()} |"
            )
            stage_rows.append(
                f"| {rate:.0f}/s | "
                + " | ".join(f"{p50:.1f} / {p99:.1f} ms" for p50, p99 in found["stages"].values())
                + " |"
            )
            stage_names = list(found["stages"])
        print("\nwall time per stage inside the API, 200 responses (Server-Timing), p50 / p99:")
        print("| offered load | " + " | ".join(stage_names) + " |")
        print("|---:|" + "---:|" * len(stage_names))
        print("\n".join(stage_rows))
    finally:
        if api is not None:
            stop(api)
        stop(consent)
    verified = subprocess.run(
        [joinedup_executable(), "audit", "verify", "--bootstrap", bootstrap, "--topic", audit_topic],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    print(f"joinedup audit verify (exit {verified.returncode}): {verified.stdout.strip().splitlines()[-1:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=40)
    parser.add_argument(
        "--rates", type=lambda v: [float(r) for r in v.split(",")], default=[50.0, 100.0, 200.0]
    )
    parser.add_argument("--seconds", type=float, default=20, help="per rate")
    parser.add_argument("--stage-ops", type=int, default=400, help="operations per stage measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with session_broker(tmp / "kafka") as broker:
            run(broker.bootstrap, args, tmp)
    sys.exit(0)


if __name__ == "__main__":
    main()
