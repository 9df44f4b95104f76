"""`joinedup demo`: the system on this machine, end to end.

Today it proves the foundation: a real Kafka broker (started from the Maven jars unless
KAFKA_BOOTSTRAP_SERVERS names one), every topic from the catalog, and one Avro-encoded referral making the
round trip through its agency's intake topic. Later issues grow it into the whole pipeline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from rich.console import Console
from rich.table import Table

from joinedup.contract.examples import referral_submission
from joinedup.contract.kafka import admin_client, apply_topics, producer
from joinedup.contract.keys import intake_key
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import catalog, intake_topic
from joinedup.local.broker import BrokerError
from joinedup.local.commands import local_broker

console = Console()


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


def show(trip: RoundTrip) -> None:
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


def run_demo(once: bool) -> None:
    with demo_broker() as bootstrap:
        admin = admin_client(bootstrap)
        try:
            report = apply_topics(admin, catalog().topics)
        finally:
            admin.close()
        console.print(
            f"topics: {len(report.created)} created, {len(report.unchanged)} already there"
            + (f", [red]{len(report.drift)} drifted[/]" if report.drift else "")
        )
        trip = round_trip(bootstrap)
        show(trip)
        if not trip.identical:
            raise DemoFailed("the record read back differs from the one sent")
        if once:
            return
        console.print(f"Kafka is serving at [bold]{bootstrap}[/]. Press Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
