"""Kill -9 the referral workers at random moments, restart them, and check the canonical topic holds exactly
the events a reference run of the pure handler computes: none missing, none twice. Two workers share the
intake (range assignment) the whole time, so this also shows that two workers give the result of one."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from joinedup.contract.envelope import from_kafka_timestamp, to_kafka_timestamp
from joinedup.contract.kafka import topic_offsets
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.topics import REFERRAL_EVENTS, intake_topic, receipts_topic
from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.handlers import handle
from joinedup.referral.app.ports import Coordinates
from joinedup.referral.app.reference import default_reference_data
from joinedup.referral.app.testing import (
    a_contact,
    a_person,
    a_referral,
    a_response,
    a_withdrawal,
    an_assessment,
)
from joinedup.referral.domain.submissions import Submission

from .conftest import Agencies, read_topic

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

SEED = 20261122
REFERRERS = ("probation", "police", "nhs-mh-trust", "youth-offending")
RECEIVERS = ("council-housing", "council-asc", "jobcentre")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Workload:
    """Submissions in publication order: phase 1 (referrals, withdrawals, contacts, duplicates, invalid
    ones) needs no order across topics; phase 2 (responses and assessments) follows phase 1's processing."""

    phases: list[list[tuple[str, Submission, int]]] = field(default_factory=lambda: [[], []])

    def add(self, phase: int, agency: str, submission: Submission) -> None:
        self.phases[phase].append((agency, submission, self.count + 1))

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.phases)

    def all(self) -> Iterator[tuple[str, Submission, int]]:
        for phase in self.phases:
            yield from phase


def workload(rng: random.Random, referrals: int) -> Workload:
    work = Workload()
    at = START - timedelta(days=1)
    accepted: list[tuple[str, str, str]] = []
    for i in range(referrals):
        by = REFERRERS[i % len(REFERRERS)]
        to = RECEIVERS[i % len(RECEIVERS)]
        ref = f"R-{i}"
        person = a_person(f"P-{i}")
        if rng.random() < 0.04:
            person = a_person(f"P-{i}", nhs_number="9434765918")  # invalid-nhs-number
        referral = a_referral(ref, by=by, at=at, to_agency=to, subject=person)
        work.add(0, by, referral)
        if rng.random() < 0.05:
            work.add(0, by, referral)  # a duplicate
        if rng.random() < 0.1:
            work.add(0, by, a_withdrawal(ref, by=by, at=at))
        else:
            accepted.append((by, to, ref))
        if i % 3 == 0:
            work.add(0, "police", a_contact(f"C-{i}", at=at, subject=a_person(f"PN-{i}")))
    for n, (by, to, ref) in enumerate(accepted):
        work.add(1, to, a_response("accept", ref, by=to, referrer=by, at=at))
        if n % 2 == 0:
            work.add(
                1,
                to,
                an_assessment(
                    "scheduled", f"A-{n}", by=to, under=(by, ref), at=at, assessment_type="hra-s189a"
                ),
            )
    return work


BASE_MS = to_kafka_timestamp(datetime.now(UTC)) - 3_600_000
"""Kafka timestamps of the inputs: an hour ago (a timestamp older than the intake topics' 30-day retention
would let the broker delete the records before the workers read them)."""


def timestamp_ms(sequence: int) -> int:
    return BASE_MS + sequence


def reference_run(work: Workload) -> tuple[dict[str, str], Counter[str]]:
    """A reference run of the pure handler: the canonical event ids (with what they record), and the receipts
    per agency."""
    state = MemoryReferralStore()
    reference = default_reference_data()
    ids: dict[str, str] = {}
    receipts: Counter[str] = Counter()
    for agency, submission, sequence in work.all():
        coordinates = Coordinates(
            intake_topic(agency), 0, sequence, from_kafka_timestamp(timestamp_ms(sequence))
        )
        outcome = handle(submission, agency, coordinates, state, reference)
        ids.update((e.envelope.event_id, f"{type(e).__name__} {agency}/{sequence}") for e in outcome.events)
        receipts[agency] += 1
    return ids, receipts


class Workers:
    """Referral worker processes sharing one data folder and one consumer group."""

    def __init__(self, bootstrap: str, prefix: str, data_dir: Path, logs: Path) -> None:
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JOINEDUP_REFERRAL_DATA_DIR": str(data_dir),
            "JOINEDUP_REFERRAL_TOPIC_PREFIX": prefix,
            "JOINEDUP_REFERRAL_SESSION_TIMEOUT_MS": "6000",
            "JOINEDUP_REFERRAL_BATCH_SIZE": "250",
        }
        self.data_dir = data_dir
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0
        self.revived = 0
        self.revived = 0

    def start(self, name: str) -> None:
        self.started += 1
        log = (self.logs / f"worker-{name}-{self.started}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "joinedup.referral.entrypoints.worker"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def revive(self) -> None:
        """Restart a worker that stopped by itself (a supervisor's job: a worker whose relay was fenced by a
        newer owner of its shard exits rather than go on as a zombie)."""
        for name, proc in sorted(self.procs.items()):
            if proc.poll() is not None:
                self.revived += 1
                self.start(name)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)

    def progress(self, topics: list[str]) -> tuple[int, int]:
        """(records consumed, outbox rows waiting) over every shard store."""
        consumed = pending = 0
        for path in sorted((self.data_dir / "referral").glob("shard-*.sqlite")):
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                marks = ",".join("?" * len(topics))
                row = db.execute(
                    f"SELECT coalesce(sum(next_offset), 0) FROM consumed_offsets WHERE topic IN ({marks})",
                    topics,
                ).fetchone()
                consumed += int(row[0])
                pending += int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
            except sqlite3.OperationalError:  # the tables are not there yet
                pass
            finally:
                db.close()
        return consumed, pending


def wait_for(
    workers: Workers, topics: list[str], total: int, *, relayed: bool, timeout_s: float = 240
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        consumed, pending = workers.progress(topics)
        if consumed >= total and (not relayed or pending == 0):
            return
        workers.revive()
        time.sleep(0.5)
    raise AssertionError(f"workers did not finish: {workers.progress(topics)} of {total}")


def test_kill_9_at_random_moments_loses_and_duplicates_no_canonical_event(
    kafka_bootstrap: str, unique_prefix: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    work = workload(rng, referrals=4_600)
    assert work.count >= 10_000
    expected, receipts_expected = reference_run(work)
    assert len(expected) > 8_000

    agencies = Agencies(kafka_bootstrap, catalog_topics)
    used = sorted({catalog_topics[intake_topic(agency)] for agency, _, _ in work.all()})
    workers = Workers(kafka_bootstrap, unique_prefix, tmp_path / "data", tmp_path)
    kills = 0
    try:
        for phase in work.phases:
            for agency, submission, sequence in phase:
                agencies.publish(agency, submission, timestamp_ms=timestamp_ms(sequence))
            agencies.flush()
            total = sum(sum(topic_offsets(kafka_bootstrap, topic).values()) for topic in used)
            for name in ("a", "b"):
                if name not in workers.procs or workers.procs[name].poll() is not None:
                    workers.start(name)
            for _ in range(3):  # kill one of the two at a random moment, restart it at once
                time.sleep(rng.uniform(2.0, 7.0))
                victim = rng.choice(("a", "b"))
                workers.kill(victim)
                kills += 1
                workers.start(victim)
            wait_for(workers, used, total, relayed=phase is work.phases[-1])
    finally:
        workers.stop_all()
        agencies.close()
    assert kills >= 3

    events = read_topic(
        kafka_bootstrap,
        catalog_topics[REFERRAL_EVENTS],
        until=lambda rs: len(rs) >= len(expected),
        timeout_s=120,
        settle_s=2,
    )
    got = [str(r.record.envelope.event_id) for r in events]
    duplicated = [i for i, n in Counter(got).items() if n > 1]
    assert duplicated == []
    missing = sorted(expected[i] for i in set(expected) - set(got))
    assert missing == []
    assert set(got) == set(expected)
    assert len(got) == len(expected)

    receipts = []
    for agency, count in sorted(receipts_expected.items()):
        receipts.extend(
            read_topic(
                kafka_bootstrap,
                catalog_topics[receipts_topic(agency)],
                until=lambda rs, n=count: len(rs) >= n,  # type: ignore[misc]
                settle_s=1,
            )
        )
    assert len(receipts) == receipts_expected.total()  # one receipt per submission, exactly once
    rejected_ids = [r.record.envelope.event_id for r in receipts if isinstance(r.record, SubmissionRejected)]
    assert len(rejected_ids) == len(set(rejected_ids))
    assert any(isinstance(r.record, SubmissionAccepted) for r in receipts)
