"""R2: the broker is killed with SIGKILL while the referral worker works through a backlog, and restarted on
the same data folder. The worker (restarted by the harness if it gave up while the broker was away, as a
supervisor would) must end with every acked submission reflected exactly once.

The session broker is shared, so this scenario runs its own throwaway broker on free ports and stops it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from joinedup.contract.kafka import admin_client, apply_topics
from joinedup.contract.topics import catalog
from joinedup.local.broker import JarCache, LocalBroker, free_port
from joinedup.local.layout import jar_cache_dir, kafka_deploy_dir

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

PREFIX = "r2."


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    broker = LocalBroker(
        tmp_path / "broker",
        JarCache(jar_cache_dir(), kafka_deploy_dir() / "pom.xml"),
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
    )
    broker.start(timeout_s=120)
    try:
        yield broker
    finally:
        broker.stop(grace_s=20)
    assert broker.pid() is None


def test_a_broker_killed_and_restarted_mid_stream_loses_duplicates_and_invents_nothing(
    own_broker: LocalBroker, tmp_path: Path, record_report: list[Report]
) -> None:
    bootstrap = own_broker.bootstrap
    renamed = catalog().renamed(PREFIX)
    admin = admin_client(bootstrap)
    try:
        assert apply_topics(admin, renamed.values()).ok
    finally:
        admin.close()
    names = {original: spec.name for original, spec in renamed.items()}

    work = referral_workload(2, 1_500)
    ledger = Ledger()
    agencies = LedgerPublisher(bootstrap, names, ledger)
    workers = Workers(bootstrap, PREFIX, tmp_path / "data", tmp_path / "logs")
    try:
        agencies.publish_phase(work, 0)
        topics = ledger.topics()
        total = intake_total(bootstrap, topics)
        workers.start()
        deadline = time.monotonic() + 60
        while workers.progress(topics)[0] < total // 4:  # the worker is well into the backlog
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.05)
        at_kill = workers.progress(topics)
        own_broker.kill()
        time.sleep(3)  # the worker's clients notice; the relay backs off and may give up
        own_broker.start(timeout_s=120)
        recover = workers.wait_caught_up(topics, total, timeout_s=300)
        agencies.publish_phase(work, 1)
        topics = ledger.topics()
        workers.wait_caught_up(topics, intake_total(bootstrap, topics), timeout_s=300)
    finally:
        workers.stop_all()
        agencies.close()

    report = check(
        "R2 broker kill -9 + restart", bootstrap, names, ledger, referral_group(PREFIX), recover_s=recover
    )
    report.detail["progress_at_the_kill"] = f"{at_kill[0]}/{total} consumed, {at_kill[1]} in the outbox"
    report.detail["worker_restarts_by_the_harness"] = workers.revived
    record_report.append(report)
    assert report.passed, report
    assert report.acked == work.count
