"""R8: twice the sustainable rate for 5 minutes, one referral worker.

1. Calibration (unless ``JOINEDUP_R8_RATE`` gives the rate): a backlog of submissions is published, a worker
   started, and the rate at which it works through the backlog (records committed by the shard stores per
   second, from its first commit to the end) is the sustainable rate on this machine.
2. Overload: the same worker, while a paced publisher sends at ``JOINEDUP_R8_FACTOR`` (2) times that rate for
   ``JOINEDUP_R8_SECONDS`` (300) seconds, with the ledger. A sampler records the consumer lag (intake end
   offsets minus the offsets the shard stores committed), the outbox rows waiting and the worker's memory.
3. Recovery: from the last send to caught up (lag 0, outboxes empty).

The workload has no cross-topic dependency (referrals, duplicates, withdrawals on their referral's key,
contacts), so the reference fold is exact whatever the interleaving. Pass = zero lost, duplicated, phantom;
and the producer saw no error (Kafka takes the backlog: the producer's backpressure is only its own buffer,
measured as the time spent blocked in ``send``)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .harness import Ledger, Report, Workers, intake_total, referral_group
from .lag_sampler import LagSampler, caught_up, check_large, lag_table, rss_mb
from .paced_publisher import PacedPublisher, intake_topics_of
from .shard_moves import shard_events

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(3600)]

SEED = 20261108
CALIBRATION = 8_000
"""Submissions in the calibration backlog."""


def setting(name: str, default: float) -> float:
    value = os.environ.get(f"JOINEDUP_R8_{name}")
    return float(value) if value else default


def calibrate(workers: Workers, topics: list[str], total: int) -> float:
    """Records per second the worker commits while working through a backlog of ``total`` (from its first
    commit to its last, so start-up does not count)."""
    deadline = time.monotonic() + 600
    while (first := workers.progress(topics)[0]) == 0:
        assert time.monotonic() < deadline, "the worker did not start consuming"
        time.sleep(0.05)
    began = time.monotonic()
    while (done := workers.progress(topics)[0]) < total:
        assert time.monotonic() < deadline, f"the calibration backlog was not consumed: {done}/{total}"
        time.sleep(0.05)
    return (done - first) / (time.monotonic() - began)


def test_twice_the_sustainable_rate_for_5_minutes_builds_a_backlog_loses_nothing_and_recovers(
    kafka_bootstrap: str,
    unique_prefix: str,
    catalog_topics: dict[str, str],
    tmp_path: Path,
    record_report: list[Report],
) -> None:
    seconds = setting("SECONDS", 300)
    factor = setting("FACTOR", 2)
    ledger = Ledger()
    agencies = PacedPublisher(kafka_bootstrap, catalog_topics, ledger, SEED)
    workers = Workers(kafka_bootstrap, unique_prefix, tmp_path / "data", tmp_path / "logs")
    topics = intake_topics_of(catalog_topics)
    sampler = LagSampler(kafka_bootstrap, topics, workers)
    peak_rss = 0.0
    try:
        calibrated = os.environ.get("JOINEDUP_R8_RATE") is None
        if calibrated:
            agencies.send(CALIBRATION)
            workers.start()
            sustainable = calibrate(workers, topics, intake_total(kafka_bootstrap, topics))
        else:
            workers.start()
            sustainable = setting("RATE", 800)
        workers.wait_caught_up(topics, intake_total(kafka_bootstrap, topics))
        load_before = Path("/proc/loadavg").read_text().split()[:3]

        agencies.prepare(int(factor * sustainable * seconds) + 1)
        sampler.start()
        began = sampler.elapsed()
        reached = agencies.send_paced(factor * sustainable, seconds)
        sent_until = sampler.elapsed()
        recovered_at = sampler.wait_until(caught_up, timeout_s=max(900, 4 * seconds))
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        peak_rss = max(sampler.peak_rss_mb, rss_mb(workers.procs["a"].pid, "VmHWM"))
        workers.procs["a"].send_signal(signal.SIGTERM)
    finally:
        sampler.stop()
        workers.stop_all()
        agencies.close()

    stats = agencies.stats
    overload = [s for s in sampler.samples if began <= s.at_s <= sent_until]
    report = check_large(
        "R8 twice the sustainable rate for 5 minutes",
        kafka_bootstrap,
        catalog_topics,
        ledger,
        referral_group(unique_prefix),
        recover_s=recovered_at - sent_until,
    )
    report.detail.update(
        {
            "sustainable_per_s": round(sustainable, 1),
            "calibrated": calibrated,
            "target_per_s": round(factor * sustainable, 1),
            "reached_per_s": round(reached, 1),
            "overload_s": seconds,
            "max_lag": max(s.lag for s in sampler.samples),
            "lag_at_end_of_overload": overload[-1].lag if overload else None,
            "drain_per_s": round(
                (overload[-1].lag / (recovered_at - sent_until))
                if overload and recovered_at > sent_until
                else 0,
                1,
            ),
            "producer_sent": stats.sent,
            "producer_acked": stats.acked,
            "producer_errors": stats.failed,
            "producer_error_kinds": sorted(set(stats.errors)),
            "producer_blocked_s": round(stats.blocked_s, 2),
            "producer_longest_send_ms": round(1000 * stats.longest_send_s, 1),
            "ack_p50_ms": round(stats.latency_ms(0.5), 1),
            "ack_p99_ms": round(stats.latency_ms(0.99), 1),
            "worker_peak_rss_mib": round(peak_rss, 1),
            "worker_restarts": workers.revived,
            "shard_opens": sum(1 for e in shard_events(tmp_path / "logs") if e.action == "opened"),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "lag_over_time": lag_table(sampler.samples),
        }
    )
    record_report.append(report)
    print("\n".join(lag_table(sampler.samples)))  # the backlog over time, in the run's output
    assert stats.failed == 0, stats.errors
    assert stats.acked == stats.sent == report.acked
    assert report.passed, report
    assert report.in_doubt == 0
