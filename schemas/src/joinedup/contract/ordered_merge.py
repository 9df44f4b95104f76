"""One deterministic order over records read from several partitions: the merge every joinedup worker reads
its inputs in (the stream runtime per shard, the projections' ordered workers over all their inputs).

Records are merged by (Kafka timestamp, catalog topic name, partition, offset), always taking the smallest
head among the partitions. A record is released only when every partition of the merge either has a
buffered record (its head is known) or is caught up to its end offset: so over data already on the topics (a
replay, a restart after kill -9) the order is a function of the topics' contents alone, and a restart resumes
the very same merge (a k-way merge is a function of the positions it has reached).

Live, a partition that is caught up does not hold the others back. When every input's timestamps are the
broker's (``message.timestamp.type=LogAppendTime``, as the intake topics are: see schemas/topics.yaml) and the
caller checks "caught up" *after* fetching what it buffered, a record appended later to a caught-up partition
carries a later timestamp than every record already buffered, so the live order is the replay order. What can
still tell them apart: a record appended in the same millisecond as the check, a broker clock stepping back,
the clocks of several brokers leading different partitions (skew), and a record appended to a leader but not
yet replicated when the end offset was read. Where timestamps are the producers' (CreateTime), a record that
arrives late with an earlier timestamp is merged after records with later timestamps live, and before them on
a replay: consumers of such topics must not depend on the order across partitions.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Partition = tuple[str, int]
"""(real topic name, partition)."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record as read from Kafka (``topic`` is the real topic name). The stream runtime re-exports it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


class OrderedMerge:
    """Buffers records per partition and releases them in the merge order."""

    def __init__(self, partitions: Iterable[Partition], catalog_names: Mapping[str, str]) -> None:
        self._buffers: dict[Partition, deque[RawRecord]] = {p: deque() for p in sorted(partitions)}
        self._catalog = dict(catalog_names)
        """Real topic name -> catalog name (the order never depends on a test prefix)."""

    @property
    def partitions(self) -> list[Partition]:
        return list(self._buffers)

    def add(self, records: Iterable[RawRecord]) -> None:
        """Buffer records (each partition's in offset order, as the consumer returns them)."""
        for record in records:
            self._buffers[(record.topic, record.partition)].append(record)

    def buffered(self, partition: Partition) -> int:
        return len(self._buffers[partition])

    def clear(self, partition: Partition) -> None:
        """Forget what is buffered for ``partition`` (its reader seeks elsewhere)."""
        self._buffers[partition].clear()

    def waiting_for(self) -> list[Partition]:
        """Partitions with nothing buffered: the merge needs to know whether they are caught up."""
        return [p for p, buffer in self._buffers.items() if not buffer]

    def _order(self, record: RawRecord) -> tuple[int, str, int, int]:
        return (
            record.timestamp_ms,
            self._catalog.get(record.topic, record.topic),
            record.partition,
            record.offset,
        )

    def release(self, caught_up: set[Partition], limit: int) -> list[RawRecord]:
        """Up to ``limit`` records in merge order; stops when a partition that is not ``caught_up`` has
        nothing buffered (its next record might come first)."""
        heads: list[tuple[tuple[int, str, int, int], Partition]] = []
        for partition, buffer in self._buffers.items():
            if buffer:
                heads.append((self._order(buffer[0]), partition))
            elif partition not in caught_up:
                return []
        heapq.heapify(heads)
        out: list[RawRecord] = []
        while heads and len(out) < limit:
            _, partition = heapq.heappop(heads)
            buffer = self._buffers[partition]
            out.append(buffer.popleft())
            if buffer:
                heapq.heappush(heads, (self._order(buffer[0]), partition))
            elif partition not in caught_up:
                break
        return out


__all__ = ["OrderedMerge", "Partition", "RawRecord"]
