"""R9: rebalance. The referral workers are scaled 1 -> 2 -> 1 mid-stream, twice, while the ledger publishes in
chunks: in phase 1 a second worker joins and then leaves (its shards go back to the first), in phase 2 a
second worker joins again and the *first* one leaves (every shard ends with the newcomer). Workers share one
data folder, as processes on one machine do: a shard's SQLite store (state, offsets, outbox) is opened by its
next owner, which seeks to the store's offsets, and whose relay publishes what the last owner left in the
outbox. A newcomer starts as soon as the phase's first records are being consumed (the backlog is still
there); the leaver stops (SIGTERM: a clean scale-down, as an orchestrator does it) as soon as the newcomer
holds shards (read from its log), with the rest of the phase still to come."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .harness import (
    Ledger,
    LedgerPublisher,
    Report,
    Workers,
    Workload,
    check,
    intake_total,
    referral_group,
    referral_workload,
)
from .shard_moves import (
    log_stem,
    owned_shards,
    owners_by_shard,
    shard_events,
    stop_one,
    wait_for_shards,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

SEED = 20261109
CHUNKS = 12
PAUSE_S = 0.1
"""Between chunks: the stream keeps flowing while the group rebalances."""


def wait_consumed(workers: Workers, topics: list[str], floor: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while workers.progress(topics)[0] < floor:
        assert time.monotonic() < deadline, f"no progress: {workers.progress(topics)}"
        time.sleep(0.05)


def test_scaling_referral_workers_1_2_1_mid_stream_loses_duplicates_and_invents_nothing(
    kafka_bootstrap: str,
    unique_prefix: str,
    catalog_topics: dict[str, str],
    tmp_path: Path,
    record_report: list[Report],
) -> None:
    work: Workload = referral_workload(SEED, 3_000)
    ledger = Ledger()
    agencies = LedgerPublisher(kafka_bootstrap, catalog_topics, ledger)
    logs = tmp_path / "logs"
    workers = Workers(kafka_bootstrap, unique_prefix, tmp_path / "data", logs, batch_size=200)
    steps: list[str] = []
    recover: list[float] = []
    left_at = 0.0
    stem = ""
    holding_at_end: set[int] = set()

    def note(what: str) -> None:
        topics = ledger.topics()
        consumed, pending = workers.progress(topics)
        steps.append(
            f"{what}: {consumed}/{intake_total(kafka_bootstrap, topics)} consumed, {pending} in outboxes"
        )

    try:
        for phase, (newcomer, leaver) in enumerate((("b", "b"), ("b", "a"))):
            chunks = [work.phases[phase][i::CHUNKS] for i in range(CHUNKS)]
            for n, chunk in enumerate(chunks):
                topics = ledger.topics()
                before = workers.progress(topics)[0] if topics else 0
                for agency, record in chunk:
                    agencies.publish(agency, record, phase)
                agencies.flush()
                topics = ledger.topics()
                if phase == 0 and n == 0:
                    workers.start("a")
                if n == 1:  # joins while the backlog is being worked through
                    wait_consumed(workers, topics, before + 1)
                    workers.start(newcomer)
                    stem = log_stem(newcomer, workers.started)
                    note(f"{newcomer} started")
                if n == CHUNKS // 2:
                    held = wait_for_shards(logs, stem)
                    note(f"{newcomer} holds shards {sorted(held)}")
                if n == CHUNKS // 2 + 1:
                    assert stop_one(workers, leaver) == 0
                    note(f"{leaver} left")
                    left_at = time.monotonic()
                time.sleep(PAUSE_S)
            workers.wait_caught_up(ledger.topics(), intake_total(kafka_bootstrap, ledger.topics()))
            recover.append(time.monotonic() - left_at)
        assert workers.alive("b")
        assert workers.revived == 0, "a worker stopped by itself"
        holding_at_end = owned_shards(logs, stem)  # before the clean stop closes them
    finally:
        workers.stop_all()
        agencies.close()

    owners = owners_by_shard(logs)
    report = check(
        "R9 rebalance 1 → 2 → 1 workers mid-stream (twice)",
        kafka_bootstrap,
        catalog_topics,
        ledger,
        referral_group(unique_prefix),
        recover_s=max(recover),
    )
    report.detail["steps"] = steps
    report.detail["owners_by_shard"] = {str(s): ws for s, ws in owners.items()}
    report.detail["shard_opens"] = sum(1 for e in shard_events(logs) if e.action == "opened")
    record_report.append(report)
    assert report.passed, report
    assert report.acked == work.count
    assert report.in_doubt == 0
    # the shards did move: every shard had two workers in turn, and the newcomer ended with all of them
    assert all(len(set(ws)) >= 2 for ws in owners.values()), owners
    assert holding_at_end == set(owners), owners
