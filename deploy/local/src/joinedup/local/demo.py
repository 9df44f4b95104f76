"""`joinedup demo`: the whole system on this machine, end to end.

A real Kafka broker (the jar broker unless KAFKA_BOOTSTRAP_SERVERS names one), every topic from the catalog,
every service under the local supervisor (referral, consent, projections, the query API), a synthetic city
published through the agencies' intake topics, then a summary read back from Kafka and one real person view
fetched from the running API. It keeps serving until Ctrl-C; with ``--once`` it checks that the pipeline
reached the state the city should produce, stops everything it started and exits 0 only if it did.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from joinedup.contract.examples import referral_submission
from joinedup.contract.kafka import admin_client, apply_topics, producer
from joinedup.contract.keys import intake_key
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import catalog, intake_topic
from joinedup.local import supervisor
from joinedup.local.broker import BrokerError
from joinedup.local.commands import local_api_url, local_broker, local_consent_url, service_env
from joinedup.local.simulate_commands import simulate
from joinedup.local.summary import gather_summary, render_summary, shortfalls
from joinedup.local.synthetic.city import CITY_AGENCIES, City

console = Console()

EXAMPLE_AGENCY = "police"
EXAMPLE_PURPOSE = "safeguarding"


class DemoFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class RoundTrip:
    topic: str
    partition: int
    offset: int
    key: str
    size: int
    fingerprint: str
    event_type: str
    event_id: str
    identical: bool
    millis: float


@contextlib.contextmanager
def demo_broker() -> Iterator[str]:
    """The broker to use: KAFKA_BOOTSTRAP_SERVERS, or the local jar broker (started, and stopped again,
    only if it was not already running)."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        console.print(f"using the Kafka cluster at [bold]{configured}[/] (KAFKA_BOOTSTRAP_SERVERS)")
        yield configured
        return
    broker = local_broker()
    already = broker.pid() is not None
    started = time.monotonic()
    try:
        broker.start(log=lambda m: console.print(m))
    except BrokerError as exc:
        raise DemoFailed(str(exc)) from exc
    if not already:
        console.print(f"[green]broker up[/] at {broker.bootstrap} in {time.monotonic() - started:.1f} s")
    try:
        yield broker.bootstrap
    finally:
        if not already:
            broker.stop()
            console.print("broker stopped")


def round_trip(bootstrap: str) -> RoundTrip:
    """Encode the example referral, produce it to its agency's intake topic, read it back, decode it."""
    codec = default_codec()
    record = referral_submission()
    agency = record.envelope.source_agency
    topic = intake_topic(agency)
    key = intake_key(record, agency)
    payload = codec.encode(record)
    started = time.monotonic()
    out = producer(bootstrap, "joinedup-demo")
    try:
        meta = out.send(topic, key=key.encode(), value=payload).get(timeout=30)
    finally:
        out.close()
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000)
    try:
        tp = TopicPartition(topic, meta.partition)
        reader.assign([tp])
        reader.seek(tp, meta.offset)
        message = next(iter(reader), None)
    finally:
        reader.close()
    elapsed = (time.monotonic() - started) * 1000
    if message is None or message.value is None:
        raise DemoFailed(f"the record produced to {topic} at offset {meta.offset} could not be read back")
    decoded = codec.decode(message.value)
    return RoundTrip(
        topic=topic,
        partition=meta.partition,
        offset=meta.offset,
        key=message.key.decode() if message.key else "",
        size=len(message.value),
        fingerprint=message.value[2:10].hex(),
        event_type=type(decoded).__name__,
        event_id=str(decoded.envelope.event_id) if hasattr(decoded, "envelope") else "",
        identical=decoded.model_dump() == codec.decode(payload).model_dump(),
        millis=elapsed,
    )


def show_round_trip(trip: RoundTrip) -> None:
    table = Table(title="one referral, Avro-encoded, through a real Kafka topic", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("record", f"{trip.event_type} (event id {trip.event_id})")
    table.add_row("topic / partition / offset", f"{trip.topic} / {trip.partition} / {trip.offset}")
    table.add_row("key", trip.key)
    table.add_row(
        "bytes on the wire", f"{trip.size} (0xC3 0x01 + fingerprint {trip.fingerprint} + Avro body)"
    )
    table.add_row("decoded back identical", "yes" if trip.identical else "[red]NO[/]")
    table.add_row("produce + consume", f"{trip.millis:.0f} ms")
    console.print(table)


# ------------------------------------------------------------------------------------------ the pipeline


def wait_healthy(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                return True
        time.sleep(0.5)
    return False


def token_for(tokens_file: Path, agency: str, role: str) -> str:
    """A demo bearer token of ``role`` at ``agency`` from the tokens file `up` writes."""
    book = yaml.safe_load(tokens_file.read_text()) or {}
    for token, principal in sorted(book.get("tokens", {}).items()):
        if principal.get("agency") == agency and principal.get("role") == role:
            return str(token)
    raise DemoFailed(f"no {role} token for {agency} in {tokens_file}")


@dataclass(frozen=True)
class ExampleView:
    record: tuple[str, str]
    person_id: str
    curl: str
    body: Mapping[str, object]


def example_view(city: City, api_tokens: Path) -> ExampleView | None:
    """One member of the complex family, as a police caseworker sees them for safeguarding."""
    token = token_for(api_tokens, EXAMPLE_AGENCY, "caseworker")
    api = local_api_url()
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": EXAMPLE_PURPOSE}
    for agency, local_id in city.family.records:
        if agency != EXAMPLE_AGENCY:
            continue
        found = httpx.get(f"{api}/v1/records/{agency}/{local_id}", headers=headers, timeout=10.0)
        if found.status_code != 200:
            continue
        person_id = str(found.json()["person_id"])
        view = httpx.get(f"{api}/v1/persons/{person_id}", headers=headers, timeout=10.0)
        if view.status_code != 200:
            continue
        curl = (
            f"curl -s -H 'Authorization: Bearer {token}' -H 'X-Purpose: {EXAMPLE_PURPOSE}' "
            f"{api}/v1/persons/{person_id}"
        )
        return ExampleView((agency, local_id), person_id, curl, view.json())
    return None


def show_example(example: ExampleView | None) -> None:
    if example is None:
        console.print("[yellow]no example person view yet[/] (the projections may still be catching up)")
        return
    body = example.body
    found = body.get("items") or body.get("contacts") or []
    items = [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []
    agencies = sorted({str(i.get("agency") or i.get("owner_agency")) for i in items})
    alerts = body.get("alerts")
    open_alerts = len(alerts) if isinstance(alerts, list) else 0
    console.print(
        f"\n[bold]A member of the complex family[/] (police record {example.record[1]}) as a police "
        f"caseworker sees them for {EXAMPLE_PURPOSE}: person {example.person_id}, {len(items)} items from "
        f"{len(agencies)} agencies ({', '.join(agencies)}), {body.get('withheld', 0)} withheld for lack "
        f"of a basis, {open_alerts} open alert(s)."
    )
    console.print(f"Try it:\n  {example.curl}", highlight=False, soft_wrap=True)
    first = json.dumps({k: body[k] for k in ("person_id", "withheld") if k in body})
    console.print(f"  -> {first} ...", highlight=False)


def run_pipeline(
    bootstrap: str, verbs: list[str], once: bool, seed: int, persons: int, timeout_s: float
) -> bool:
    env = service_env(bootstrap)
    processes = supervisor.start_services(verbs, env, log=lambda m: console.print(m))
    try:
        consent_url, api_url = local_consent_url(), local_api_url()
        for name, url in (("consent", consent_url), ("api", api_url)):
            if name in verbs and not wait_healthy(url, 60.0):
                raise DemoFailed(f"the {name} service did not answer at {url}/healthz within 60 s")
        consent_token = env["JOINEDUP_API_CONSENT_TOKEN"]
        city = simulate(
            seed=seed,
            persons=persons,
            bootstrap=bootstrap,
            topic_prefix="",
            wait=True,
            receipt_timeout=60.0,
            consent_url=consent_url,
            consent_token=consent_token,
            truth_file=None,
        )
        expected = city.expected()
        deadline = time.monotonic() + timeout_s
        while True:
            summary = gather_summary(bootstrap, CITY_AGENCIES, truth=city.truth, timeout_s=10.0)
            missing = shortfalls(summary, expected)
            if not missing or time.monotonic() > deadline:
                break
            console.print(f"waiting for the pipeline: {'; '.join(missing)}")
            time.sleep(5.0)
        render_summary(summary, console)
        example = example_view(city, Path(env["JOINEDUP_API_TOKENS_FILE"])) if "api" in verbs else None
        show_example(example)
        console.print(
            f"\nOpenAPI: {api_url}/docs (query API), {consent_url}/docs (consent decisions); "
            f"demo tokens in {Path(env['JOINEDUP_API_TOKENS_FILE']).parent}; logs in {supervisor.logs_dir()}"
        )
        for problem in missing:
            console.print(f"[red]not reached:[/] {problem}")
        if once:
            return not missing and example is not None
        console.print(
            "[bold]serving[/] — Ctrl-C stops every service (and the broker, if the demo started it)"
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1.0)
                for dead in supervisor.dead_services(processes):
                    console.print(f"[red]{dead.verb} exited[/]:\n{supervisor.log_tail(dead.log)}")
                    processes.remove(dead)
        return True
    finally:
        supervisor.stop_services(verbs, log=lambda m: console.print(m))


def run_demo(
    once: bool, verbs: list[str], seed: int = 7, persons: int = 200, timeout_s: float = 240.0
) -> None:
    with demo_broker() as bootstrap:
        admin = admin_client(bootstrap)
        try:
            report = apply_topics(admin, catalog().topics)
        finally:
            admin.close()
        console.print(
            f"topics: {len(report.created)} created, {len(report.unchanged)} already there"
            + (f", {len(report.altered)} switched to the catalog's timestamp type" if report.altered else "")
            + (f", [red]{len(report.drift)} drifted[/]" if report.drift else "")
        )
        trip = round_trip(bootstrap)
        show_round_trip(trip)
        if not trip.identical:
            raise DemoFailed("the record read back differs from the one sent")
        if not run_pipeline(bootstrap, verbs, once, seed, persons, timeout_s):
            raise DemoFailed("the pipeline did not reach the expected state (see above)")
