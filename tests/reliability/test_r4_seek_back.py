"""R4: duplicate delivery and consumer seek-back. The referral worker keeps its consumed offsets in its shard
stores (not in Kafka), so a seek-back is done there, with the worker stopped:

- ``offsets-reset``: every consumed offset set to 0, state kept: every input is delivered a second time to a
  worker that remembers it (duplicate delivery of the whole log). The shard's handled mark is state (what
  the state reflects, see joinedup.contract.outbox): a redelivery below it publishes nothing;
- ``stores-deleted``: the shard stores deleted (state, offsets and outbox): the worker rebuilds from offset 0.

Each variant runs once (a module fixture); the tests below read its report."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from .harness import (
    Ledger,
    LedgerPublisher,
    Report,
    Workers,
    check,
    fresh_topics,
    intake_total,
    referral_group,
    referral_workload,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(400)]


def reset_offsets(workers: Workers) -> int:
    """Set every consumed offset to 0 (the state stays); returns how many partitions were reset."""
    reset = 0
    for path in workers.stores():
        db = sqlite3.connect(path)
        try:
            with db:
                reset += db.execute("UPDATE consumed_offsets SET next_offset = 0").rowcount
        finally:
            db.close()
    return reset


def delete_stores(workers: Workers) -> int:
    """Delete every shard store (state, offsets, outbox); returns how many."""
    stores = workers.stores()
    for path in stores:
        for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            extra.unlink(missing_ok=True)
    return len(stores)


SEEK_BACKS: dict[str, tuple[str, Callable[[Workers], int]]] = {
    "offsets-reset": ("offsets reset to 0, state kept", reset_offsets),
    "stores-deleted": ("shard stores deleted", delete_stores),
}


@pytest.fixture(scope="module", params=sorted(SEEK_BACKS))
def seek_back(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Report]:
    label, move = SEEK_BACKS[request.param]
    prefix, names = fresh_topics(kafka_bootstrap)
    tmp = tmp_path_factory.mktemp(f"r4-{request.param}")

    work = referral_workload(4, 600)
    ledger = Ledger()
    agencies = LedgerPublisher(kafka_bootstrap, names, ledger)
    workers = Workers(kafka_bootstrap, prefix, tmp / "data", tmp / "logs")
    try:
        agencies.publish_phase(work, 0)
        topics = ledger.topics()
        workers.start()
        workers.wait_caught_up(topics, intake_total(kafka_bootstrap, topics))
        workers.stop_all()
        assert move(workers) > 0
        workers.start()
        recover = workers.wait_caught_up(topics, intake_total(kafka_bootstrap, topics))
        agencies.publish_phase(work, 1)  # and the worker goes on from there
        topics = ledger.topics()
        workers.wait_caught_up(topics, intake_total(kafka_bootstrap, topics))
    finally:
        workers.stop_all()
        agencies.close()
    report = check(
        f"R4 seek-back ({label})", kafka_bootstrap, names, ledger, referral_group(prefix), recover_s=recover
    )
    return request.param, report


def duplicated(report: Report, kind: str) -> int:
    return int(report.detail["duplicated_by_kind"].get(kind, 0))


def test_after_a_seek_back_nothing_acked_is_lost_and_nothing_is_invented(
    seek_back: tuple[str, Report], record_report: list[Report]
) -> None:
    _, report = seek_back
    record_report.append(report)
    assert report.acked > 1_000
    assert report.lost == 0
    assert report.phantom == 0


def test_after_a_seek_back_no_canonical_event_is_published_twice(seek_back: tuple[str, Report]) -> None:
    _, report = seek_back
    assert duplicated(report, "events") == 0
    assert report.detail["by_kind"]["events"] > 1_000


def test_after_a_seek_back_no_receipt_is_published_twice(seek_back: tuple[str, Report]) -> None:
    _, report = seek_back
    assert duplicated(report, "receipts") == 0
    assert report.duplicated == 0
