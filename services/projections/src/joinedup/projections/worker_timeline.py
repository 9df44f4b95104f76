"""Per-record timings of an ordered worker, kept only when asked (``OrderedWorkerConfig.measure``).

For every input record the worker notes when it held the record (the poll that returned it), when the merge
released it to a batch, when that batch's SQLite transaction committed (the decision is durable: state,
offsets and outbox), and when the relay's Kafka transaction holding the batch's last output committed (its
events are published for ``read_committed`` readers). Times are ``time.perf_counter_ns()``; the wall time of
the hold is kept too, to compare with the producer's timestamps.

Nothing here decides anything: the timings are only read by benchmarks after the run.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from joinedup.contract.streams import RawRecord
from joinedup.projections.relay_thread import RelayStore

Coordinates = tuple[str, int, int]
"""(real topic, partition, offset)."""


@dataclass(frozen=True, slots=True)
class RecordTiming:
    """One input's way through the worker (``perf_counter_ns`` unless named ``wall``)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    """The input's Kafka timestamp."""
    held_wall_ns: int
    """``time.time_ns()`` when the poll returned it to the worker."""
    held_ns: int
    released_ns: int
    """When the merge released it into a batch."""
    committed_ns: int
    """When the batch's SQLite transaction (state + offsets + outbox) committed."""
    published_ns: int | None
    """When the relay's Kafka transaction with the batch's last output committed (the commit itself if the
    batch had no output; None if the run stopped first)."""
    batch_size: int
    batch_cpu_ns: int
    """The worker thread's CPU time from the release to the commit of the record's batch."""
    batch_outputs: int
    """How many records the batch put in the outbox (0: nothing to publish)."""
    batch_position: int
    """0 for the batch's first record: a later one's decision waited for the earlier ones' too."""

    @property
    def durable_ms(self) -> float:
        """(a) resolution latency: held -> decision durable (SQLite commit)."""
        return (self.committed_ns - self.held_ns) / 1e6

    @property
    def published_ms(self) -> float | None:
        """(b) held -> its events published (Kafka transaction committed)."""
        return None if self.published_ns is None else (self.published_ns - self.held_ns) / 1e6

    @property
    def merge_wait_ms(self) -> float:
        """Held -> released: time spent waiting in the merge (and behind earlier batches)."""
        return (self.released_ns - self.held_ns) / 1e6


@dataclass(frozen=True, slots=True)
class _Batch:
    records: tuple[RawRecord, ...]
    released_ns: int
    committed_ns: int
    last_seq: int
    """The highest outbox sequence number allocated once it committed (0 if it put nothing there)."""
    cpu_ns: int
    outputs: int


class WorkerTimeline:
    """Collects the timings of one worker run."""

    def __init__(self) -> None:
        self._held: dict[Coordinates, tuple[int, int]] = {}
        self._batches: list[_Batch] = []
        self._published: list[tuple[int, int]] = []
        """(every outbox row below this sequence number is in Kafka, at), in relay order."""

    def held(self, records: Iterable[RawRecord]) -> None:
        now, wall = time.perf_counter_ns(), time.time_ns()
        for r in records:
            self._held[(r.topic, r.partition, r.offset)] = (now, wall)

    def committed(
        self,
        records: Sequence[RawRecord],
        released_ns: int,
        last_seq: int,
        cpu_ns: int,
        outputs: int,
        committed_ns: int | None = None,
    ) -> None:
        """A batch committed (at ``committed_ns``, else now): ``last_seq`` is the highest outbox sequence
        number allocated by then, ``cpu_ns`` the worker thread's CPU time for it, ``outputs`` how many
        records it put in the outbox."""
        now = time.perf_counter_ns() if committed_ns is None else committed_ns
        self._batches.append(_Batch(tuple(records), released_ns, now, last_seq, cpu_ns, outputs))

    def published(self, below_seq: int) -> None:
        self._published.append((below_seq, time.perf_counter_ns()))

    def timings(self) -> list[RecordTiming]:
        """Every committed record's timings, in the order the worker committed them."""
        positions = [below for below, _ in self._published]
        out: list[RecordTiming] = []
        for batch in self._batches:
            if batch.outputs == 0:
                published: int | None = batch.committed_ns
            else:
                index = bisect.bisect_right(positions, batch.last_seq)
                published = self._published[index][1] if index < len(positions) else None
            for position, r in enumerate(batch.records):
                held, wall = self._held.get((r.topic, r.partition, r.offset), (batch.released_ns, 0))
                out.append(
                    RecordTiming(
                        r.topic,
                        r.partition,
                        r.offset,
                        r.timestamp_ms,
                        wall,
                        held,
                        batch.released_ns,
                        batch.committed_ns,
                        published,
                        len(batch.records),
                        batch.cpu_ns,
                        batch.outputs,
                        position,
                    )
                )
        return out


class TimedShardStore(RelayStore):
    """A relay's store that tells a timeline when the relay has published rows (``mark_sent`` is
    called right after the relay's Kafka transaction commits)."""

    def __init__(self, path: Path | str, timeline: WorkerTimeline, *, durable: bool = False) -> None:
        super().__init__(path, durable=durable)
        self.timeline = timeline

    def mark_sent(self, below_seq: int) -> None:
        self.timeline.published(below_seq)
        super().mark_sent(below_seq)

    def last_seq(self) -> int:
        """The highest outbox sequence number allocated so far (0: none)."""
        row = self.connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return int(row[0]) if row else 0
