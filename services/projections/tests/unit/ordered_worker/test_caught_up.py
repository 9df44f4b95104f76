"""When the ordered worker counts a partition as read to its end: from what the fetch responses said."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from aiokafka import TopicPartition  # type: ignore[import-untyped]

from joinedup.projections.ordered_worker import caught_up_partitions


class FakeConsumer:
    """Positions and last stable offsets per partition, as an aiokafka consumer reports them (no requests:
    ``end_offsets`` must not be called)."""

    def __init__(self, positions: dict[int, int], stable: dict[int, int | None]) -> None:
        self.positions = positions
        self.stable = stable

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return self.stable[tp.partition]

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp.partition]

    async def end_offsets(self, partitions: Any) -> Any:
        raise AssertionError("caught-up checks send no request")


def test_a_partition_is_caught_up_once_its_position_reaches_the_last_stable_offset_of_the_latest_fetch() -> (
    None
):
    consumer = FakeConsumer({0: 5, 1: 4, 2: 0, 3: 7}, {0: 5, 1: 9, 2: None, 3: -1})
    partitions = [("t", p) for p in range(4)]
    done = asyncio.run(caught_up_partitions(cast(Any, consumer), partitions))
    # 0: at its end; 1: records still to read; 2: no fetch response yet; 3: no stable offset reported
    assert done == {("t", 0)}


def test_an_empty_partition_is_caught_up_once_a_fetch_response_has_covered_it() -> None:
    consumer = FakeConsumer({0: 0}, {0: None})
    assert asyncio.run(caught_up_partitions(cast(Any, consumer), [("t", 0)])) == set()
    consumer.stable[0] = 0
    assert asyncio.run(caught_up_partitions(cast(Any, consumer), [("t", 0)])) == {("t", 0)}
