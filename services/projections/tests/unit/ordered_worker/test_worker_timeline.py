"""The ordered worker's timeline (benchmarks only): which relay commit published which input's events."""

from __future__ import annotations

from pathlib import Path

from joinedup.contract.outbox import Publication
from joinedup.contract.streams import RawRecord
from joinedup.projections.worker_timeline import TimedShardStore, WorkerTimeline


def raw(offset: int) -> RawRecord:
    return RawRecord("t", 0, offset, 1_000 + offset, None, b"")


def test_a_records_events_count_as_published_by_the_first_relay_commit_past_its_batchs_last_outbox_row() -> (
    None
):
    timeline = WorkerTimeline()
    timeline.held([raw(0), raw(1), raw(2)])
    timeline.committed([raw(0), raw(1)], released_ns=1, last_seq=3, cpu_ns=10, outputs=3)
    timeline.committed([raw(2)], released_ns=2, last_seq=5, cpu_ns=10, outputs=2)
    timeline.published(3)  # rows 1-2 only: the first batch is not all out yet
    timeline.published(6)  # rows 3-5
    first, second, third = timeline.timings()
    assert first.published_ns == second.published_ns == third.published_ns
    assert first.published_ns is not None
    assert first.published_ns >= first.committed_ns
    assert [t.offset for t in (first, second, third)] == [0, 1, 2]
    assert (first.batch_size, third.batch_size) == (2, 1)


def test_a_batch_without_output_is_published_when_it_commits_and_an_unrelayed_one_never() -> None:
    timeline = WorkerTimeline()
    timeline.held([raw(0), raw(1)])
    timeline.committed([raw(0)], released_ns=1, last_seq=0, cpu_ns=1, outputs=0)
    timeline.committed([raw(1)], released_ns=2, last_seq=4, cpu_ns=1, outputs=4)
    quiet, waiting = timeline.timings()
    assert quiet.published_ns == quiet.committed_ns
    assert waiting.published_ns is None
    assert waiting.published_ms is None


def test_the_timed_store_reports_the_relays_progress_and_the_last_sequence_number(tmp_path: Path) -> None:
    timeline = WorkerTimeline()
    with TimedShardStore(tmp_path / "s.sqlite", timeline) as store:
        assert store.last_seq() == 0
        with store.transaction():
            store.append([Publication("t", b"k", b"v"), Publication("t", b"k", b"w")])
        assert store.last_seq() == 2
        timeline.held([raw(0)])
        timeline.committed([raw(0)], released_ns=0, last_seq=2, cpu_ns=0, outputs=2)
        store.mark_sent(3)
        assert store.pending() == 0
    (only,) = timeline.timings()
    assert only.published_ns is not None


def test_a_records_place_in_its_batch_and_the_commit_time_given_are_kept() -> None:
    timeline = WorkerTimeline()
    timeline.held([raw(0), raw(1), raw(2)])
    timeline.committed(
        [raw(0), raw(1), raw(2)], released_ns=1, last_seq=0, cpu_ns=1, outputs=0, committed_ns=7
    )
    timings = timeline.timings()
    assert [t.batch_position for t in timings] == [0, 1, 2]
    assert {t.committed_ns for t in timings} == {7}
