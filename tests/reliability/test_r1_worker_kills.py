"""R1: kill -9 of the referral worker mid-batch (at random moments while it works through a backlog), and
during start-up recovery (killed again within a second of its restart, while it joins the group, opens its
shard stores, fences the old relay and seeks), and as soon as a restarted worker has committed a batch or
relayed part of its outbox. Kills are triggered by the progress read from the shard stores, not by the clock,
so they land where they are meant to. Each phase ends with the worker caught up; the time from the last
restart to caught up is the time to recover."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import (
    Ledger,
    LedgerPublisher,
    Report,
    Workers,
    check,
    intake_total,
    referral_group,
    referral_workload,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

SEED = 20261101


def consumed_at_least(floor: int) -> Callable[[int, int], bool]:
    """(consumed, pending) -> whether ``floor`` records have been consumed."""
    return lambda consumed, _pending: consumed >= floor


def moved_from(seen: int, waiting: int) -> Callable[[int, int], bool]:
    """(consumed, pending) -> whether a batch was committed or part of the outbox relayed since then."""
    return lambda consumed, pending: consumed > seen or pending < waiting


def test_kill_9_mid_batch_and_during_start_up_recovery_loses_duplicates_and_invents_nothing(
    kafka_bootstrap: str,
    unique_prefix: str,
    catalog_topics: dict[str, str],
    tmp_path: Path,
    record_report: list[Report],
) -> None:
    rng = random.Random(SEED)
    work = referral_workload(SEED, 2_500)
    ledger = Ledger()
    agencies = LedgerPublisher(kafka_bootstrap, catalog_topics, ledger)
    workers = Workers(kafka_bootstrap, unique_prefix, tmp_path / "data", tmp_path / "logs", batch_size=200)
    recover: list[float] = []
    at_kills: list[str] = []

    def kill(when: str, topics: list[str], total: int) -> None:
        consumed, pending = workers.progress(topics)
        workers.kill()
        at_kills.append(f"{when}: {consumed}/{total} consumed, {pending} in the outbox")

    def wait_until(topics: list[str], done: Callable[[int, int], bool]) -> None:
        deadline = time.monotonic() + 90
        while not done(*workers.progress(topics)):
            assert time.monotonic() < deadline, f"no progress: {workers.progress(topics)}"
            assert workers.alive(), "the worker stopped by itself"
            time.sleep(0.01)

    try:
        for phase in range(len(work.phases)):
            agencies.publish_phase(work, phase)
            topics = ledger.topics()
            total = intake_total(kafka_bootstrap, topics)
            before, _ = workers.progress(topics)
            fresh = total - before

            workers.start()  # mid-batch: a third of the way through the phase's backlog
            floor = before + fresh // 3
            wait_until(topics, consumed_at_least(floor))
            kill("mid-batch", topics, total)

            workers.start()  # during start-up recovery: within a second of the restart
            time.sleep(rng.uniform(0.2, 0.9))
            kill("start-up", topics, total)

            workers.start()  # as soon as the restarted worker has committed anything or relayed a batch
            seen, waiting = workers.progress(topics)
            wait_until(topics, moved_from(seen, waiting))
            kill("first batch after restart", topics, total)

            workers.start()
            recover.append(workers.wait_caught_up(topics, total, timeout_s=240))
            kill("caught up", topics, total)  # the next phase starts from a cold kill
    finally:
        workers.stop_all()
        agencies.close()
    assert workers.kills == 4 * len(work.phases)

    report = check(
        "R1 worker kill -9 (mid-batch, during recovery)",
        kafka_bootstrap,
        catalog_topics,
        ledger,
        referral_group(unique_prefix),
        recover_s=max(recover),
    )
    report.detail["progress_at_each_kill"] = at_kills
    record_report.append(report)
    assert report.passed, report
    assert report.acked == work.count
    assert report.in_doubt == 0
