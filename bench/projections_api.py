"""The person view worker and the query API through a real broker: backlog events/s, ingest -> alert latency,
and query latency p50 / p99 at a fixed request rate.

    .venv/bin/python bench/projections_api.py --events 10000 --alerts 40 --rate 20 --seconds 20

Starts a throwaway broker (or uses KAFKA_BOOTSTRAP_SERVERS), publishes a synthetic stream (canonical referral
events + identity events: the identity worker is not run), runs the person view worker, then:
- ingest -> alert: for fresh persons with a scheduled Care Act s.9 assessment, a carer's assessment (same
  group) is published live at 5/s; latency = alert read (read_committed) - input send time;
- query: the consent service and the query API (uvicorn) run in-process; one client sends
  GET /v1/persons/{id} at a fixed rate (open loop) as a police caseworker; p50 / p99 client-side.
  Every request asks the consent service for decisions and appends an audit record (acks=all)
  before it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from kafka import KafkaConsumer, TopicPartition
from pydantic import SecretStr

from joinedup.consent import bootstrap as consent_bootstrap
from joinedup.consent.settings import ConsentSettings
from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.models.event import Event
from joinedup.contract.models.identity import PersonCreated, PersonsMerged, PersonSplit, RecordLinked
from joinedup.contract.models.referral import AssessmentScheduled
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS, catalog
from joinedup.local.broker import free_port
from joinedup.local.test_broker import session_broker
from joinedup.projections.bootstrap import build_api, person_view_worker
from joinedup.projections.person_view.event_factory import (
    assessment,
    person_created,
    record_linked,
    synthetic_stream,
)
from joinedup.projections.person_view.worker import PersonViewWorker
from joinedup.projections.settings import ApiSettings, ProjectionsSettings

IDENTITY_TYPES = (PersonCreated, RecordLinked, PersonsMerged, PersonSplit)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def background(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> tuple[Callable[[], None], list]:
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
        TopicPartition(names[ALERTS], p) for p in sorted(reader.partitions_for_topic(names[ALERTS]) or {0})
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
        f"ingest -> alert at 5/s: {len(lat)}/{len(sent)} alerts, p50 {pct(lat, 50):.0f} ms, "
        f"p99 {pct(lat, 99):.0f} ms, max {max(lat):.0f} ms"
    )

    # ---- query latency
    tokens = tmp / "consent-tokens.yaml"
    tokens.write_text(
        yaml.safe_dump({"tokens": {"admin": {"agency": "police", "user": "a", "role": "admin"}}})
    )
    api_tokens = tmp / "api-tokens.yaml"
    api_tokens.write_text(
        yaml.safe_dump({"tokens": {"cw": {"agency": "police", "user": "cw-1", "role": "caseworker"}}})
    )
    consent_port, api_port = free_port(), free_port()
    consent_settings = ConsentSettings(
        data_dir=tmp / "consent", topic_prefix=prefix, api_port=consent_port, tokens_file=tokens
    )

    async def consent_main(stop: asyncio.Event) -> None:
        process = consent_bootstrap.build(consent_settings, kafka, topic_names=names)
        try:
            await consent_bootstrap.serve(process, consent_settings, stop)
        finally:
            process.close()

    halt_consent, _ = background(consent_main)
    api = build_api(
        ApiSettings(
            data_dir=settings.data_dir,
            port=api_port,
            tokens_file=api_tokens,
            consent_url=f"http://127.0.0.1:{consent_port}",
            consent_token=SecretStr("admin"),
            topic_prefix=prefix,
        ),
        kafka,
    )
    server = uvicorn.Server(uvicorn.Config(api.app, port=api_port, access_log=False, log_level="warning"))
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()
    base = f"http://127.0.0.1:{api_port}"
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(200):
            try:
                if (
                    client.get("/healthz").status_code == 200
                    and httpx.get(f"http://127.0.0.1:{consent_port}/healthz").status_code == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        persons = [f"P{n}" for n in range(1, 200)]
        headers = {"Authorization": "Bearer cw", "X-Purpose": "direct-care"}
        total = int(args.rate * args.seconds)
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        t0 = time.perf_counter()
        for n in range(total):
            due = t0 + n / args.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            started = time.perf_counter()
            answer = client.get(f"/v1/persons/{persons[n % len(persons)]}", headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        achieved = total / (time.perf_counter() - t0)
    print(
        f"query GET /v1/persons/{{id}} at {args.rate}/s target ({achieved:.1f}/s achieved), "
        f"{total} requests, statuses {statuses}: "
        f"p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
    server.should_exit = True
    server_thread.join(timeout=10)
    api.close()
    halt_consent()
    halt_worker()
    sender.close(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=40)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with session_broker(tmp / "kafka") as broker:
            run(broker.bootstrap, args, tmp)
    sys.exit(0)


if __name__ == "__main__":
    main()
