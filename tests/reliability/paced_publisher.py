"""A publisher that sends at a set rate for a set time (R8), with the ledger: agency submissions generated
beforehand or as they are sent (an endless workload: referrals, some sent twice, some withdrawn, some with an
invalid NHS number, and contacts), every acknowledged send recorded, every failed send counted, the time each
send spent in the client (the producer's own backpressure: a full buffer makes ``send`` wait; on a loaded
machine also the wait for the CPU) and each ack's latency measured."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer

from joinedup.contract.kafka import producer
from joinedup.contract.keys import IntakeRecord, intake_key
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import intake_topic
from joinedup.referral.app.testing import a_contact, a_person, a_referral, a_withdrawal

from .harness import AT, RECEIVERS, REFERRERS, Acked, Ledger, to_contract


def endless_submissions(seed: int) -> Iterator[tuple[str, IntakeRecord]]:
    """(agency, submission) for ever; none depends on another's processing across topics (a withdrawal
    goes on its referral's topic and key, after it), so any interleaving of topics gives the same result."""
    rng = random.Random(seed)
    i = 0
    while True:
        by, to, ref = REFERRERS[i % len(REFERRERS)], RECEIVERS[i % len(RECEIVERS)], f"R-{seed}-{i}"
        person = a_person(f"P-{i}")
        if rng.random() < 0.04:
            person = a_person(f"P-{i}", nhs_number="9434765918")  # fails the mod-11 check: rejected
        referral = to_contract(a_referral(ref, by=by, at=AT, to_agency=to, subject=person))
        yield by, referral
        if rng.random() < 0.05:
            yield by, referral  # sent twice: the second is a duplicate
        if rng.random() < 0.1:
            yield by, to_contract(a_withdrawal(ref, by=by, at=AT))
        if i % 3 == 0:
            yield "police", to_contract(a_contact(f"C-{seed}-{i}", at=AT, subject=a_person(f"PN-{i}")))
        i += 1


def intake_topics_of(names: Mapping[str, str]) -> list[str]:
    """The real intake topics :func:`endless_submissions` publishes on."""
    return sorted({names[intake_topic(a)] for a in (*REFERRERS, "police")})


@dataclass
class SendStats:
    sent: int = 0
    acked: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    blocked_s: float = 0.0
    """Time spent inside ``send`` (serialising, partitioning, waiting for buffer space)."""
    longest_send_s: float = 0.0
    ack_latencies_s: list[float] = field(default_factory=list)

    def latency_ms(self, quantile: float) -> float:
        if not self.ack_latencies_s:
            return 0.0
        ordered = sorted(self.ack_latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


class PacedPublisher:
    """Sends ``endless_submissions`` on the agencies' intake topics, recording acks in ``ledger``."""

    def __init__(self, bootstrap: str, names: Mapping[str, str], ledger: Ledger, seed: int) -> None:
        self.names = names
        self.ledger = ledger
        self.stats = SendStats()
        self._source = endless_submissions(seed)
        self._codec = default_codec()
        self._lock = threading.Lock()
        self._ready: list[tuple[str, bytes, bytes]] = []
        self._producer: KafkaProducer = producer(bootstrap, "reliability-paced", linger_ms=20)

    def prepare(self, count: int) -> None:
        """Generate and encode the next ``count`` submissions now, so that sending them later costs the
        publisher only the client's own work (on a loaded 2-core machine generating them as they are sent
        could not keep up with the target rate)."""
        for _ in range(count):
            agency, record = next(self._source)
            self._ready.append((agency, intake_key(record, agency).encode(), self._codec.encode(record)))
        self._ready.reverse()  # popped from the end: in generation order

    def _next(self) -> tuple[str, bytes, bytes]:
        if self._ready:
            return self._ready.pop()
        agency, record = next(self._source)
        return agency, intake_key(record, agency).encode(), self._codec.encode(record)

    def _send_next(self, phase: int) -> None:
        agency, key, value = self._next()
        began = time.monotonic()
        future = self._producer.send(self.names[intake_topic(agency)], value=value, key=key)
        spent = time.monotonic() - began
        self.stats.sent += 1
        self.stats.blocked_s += spent
        self.stats.longest_send_s = max(self.stats.longest_send_s, spent)

        def acked(meta: Any) -> None:
            with self._lock:
                self.stats.acked += 1
                self.stats.ack_latencies_s.append(time.monotonic() - began)
                self.ledger.add(Acked(agency, meta.topic, meta.partition, meta.offset, phase))

        def failed(error: BaseException) -> None:
            with self._lock:
                self.stats.failed += 1
                self.stats.errors.append(type(error).__name__)

        future.add_callback(acked)
        future.add_errback(failed)

    def send(self, count: int, phase: int = 0) -> None:
        """``count`` submissions as fast as they come, then wait for their acks."""
        for _ in range(count):
            self._send_next(phase)
        self.flush()

    def send_paced(self, rate: float, seconds: float, phase: int = 0, tick_s: float = 0.01) -> float:
        """Send at ``rate`` per second for ``seconds`` (from what :meth:`prepare` made, then generating as
        it goes), then wait for the acks; returns the rate reached."""
        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(rate * elapsed) - sent
            if due <= 0:
                time.sleep(tick_s)
                continue
            for _ in range(min(due, int(rate) + 1)):
                self._send_next(phase)
                sent += 1
        reached = sent / (time.monotonic() - started)
        self.flush()
        return reached

    def flush(self) -> None:
        self._producer.flush(timeout=300)

    def close(self) -> None:
        self._producer.close(timeout=30)
