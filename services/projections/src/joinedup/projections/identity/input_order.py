"""The one order the identity resolver reads its inputs in, whatever partition they came from.

Inputs are merged by (Kafka timestamp, catalog topic name, partition, offset), always taking the smallest
head among the partitions. A record is released only when every input partition either has a buffered record
(its head is known) or is caught up to its end offset: so over data already on the topics (a replay, a
restart after kill -9) the order is a function of the topics' contents alone, and a restart resumes the very
same merge (a k-way merge is a function of the positions it has reached).

Live, a partition that is caught up does not hold the others back: a record that arrives on it later with an
earlier timestamp is resolved after records with later timestamps. A replay of the same topics then orders
them differently. The partition of records into persons is order independent (the resolver guarantees it);
the identity event stream of a live run and of a replay can differ in such cases.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from joinedup.contract.streams import RawRecord

Partition = tuple[str, int]
"""(real topic name, partition)."""


@dataclass(frozen=True, slots=True)
class _Head:
    order: tuple[int, str, int, int]
    partition: Partition


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

    def waiting_for(self) -> list[Partition]:
        """Partitions with nothing buffered: the merge needs to know whether they are caught up."""
        return [p for p, buffer in self._buffers.items() if not buffer]

    def release(self, caught_up: set[Partition], limit: int) -> list[RawRecord]:
        """Up to ``limit`` records in merge order; stops when a partition that is not ``caught_up`` has
        nothing buffered (its next record might come first)."""
        out: list[RawRecord] = []
        while len(out) < limit:
            head: _Head | None = None
            for partition, buffer in self._buffers.items():
                if not buffer:
                    if partition not in caught_up:
                        return out
                    continue
                first = buffer[0]
                order = (
                    first.timestamp_ms,
                    self._catalog.get(first.topic, first.topic),
                    first.partition,
                    first.offset,
                )
                if head is None or order < head.order:
                    head = _Head(order, partition)
            if head is None:
                return out
            out.append(self._buffers[head.partition].popleft())
        return out
