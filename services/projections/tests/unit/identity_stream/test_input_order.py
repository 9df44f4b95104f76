"""The identity worker reads its inputs in one order: (timestamp, topic, partition, offset), heads only."""

from __future__ import annotations

import random

from joinedup.contract.streams import RawRecord
from joinedup.projections.identity.input_order import OrderedMerge

REFS = "joinedup.referral.events"
ASSERTIONS = "joinedup.identity.assertions"
PARTITIONS = [(REFS, 0), (REFS, 1), (ASSERTIONS, 0)]
CATALOG = {REFS: REFS, ASSERTIONS: ASSERTIONS}


def record(topic: str, partition: int, offset: int, timestamp_ms: int) -> RawRecord:
    return RawRecord(topic, partition, offset, timestamp_ms, None, b"")


def coordinates(records: list[RawRecord]) -> list[tuple[str, int, int]]:
    return [(r.topic, r.partition, r.offset) for r in records]


def test_records_are_released_by_timestamp_then_topic_partition_and_offset() -> None:
    merge = OrderedMerge(PARTITIONS, CATALOG)
    merge.add([record(REFS, 0, 0, 10), record(REFS, 0, 1, 30)])
    merge.add([record(REFS, 1, 0, 10), record(REFS, 1, 1, 20)])
    merge.add([record(ASSERTIONS, 0, 0, 10)])
    released = merge.release(set(PARTITIONS), 100)
    assert coordinates(released) == [
        (ASSERTIONS, 0, 0),
        (REFS, 0, 0),
        (REFS, 1, 0),
        (REFS, 1, 1),
        (REFS, 0, 1),
    ]


def test_a_partition_with_nothing_buffered_that_is_not_caught_up_holds_the_merge_back() -> None:
    merge = OrderedMerge(PARTITIONS, CATALOG)
    merge.add([record(REFS, 0, 0, 10), record(REFS, 1, 0, 20)])
    assert merge.release({(REFS, 0), (REFS, 1)}, 100) == []
    assert coordinates(merge.release(set(PARTITIONS), 100)) == [(REFS, 0, 0), (REFS, 1, 0)]


def test_a_partition_drained_during_release_stops_it_unless_caught_up() -> None:
    merge = OrderedMerge(PARTITIONS, CATALOG)
    merge.add([record(REFS, 0, 0, 10), record(REFS, 1, 0, 20), record(REFS, 1, 1, 30)])
    assert coordinates(merge.release({(REFS, 1), (ASSERTIONS, 0)}, 100)) == [(REFS, 0, 0)]
    assert merge.buffered((REFS, 1)) == 2


def test_a_merge_restarted_from_any_position_continues_in_the_same_order() -> None:
    rng = random.Random(3)
    streams = {
        p: [record(p[0], p[1], offset, rng.randrange(0, 50)) for offset in range(rng.randrange(5, 15))]
        for p in PARTITIONS
    }
    whole = OrderedMerge(PARTITIONS, CATALOG)
    for records in streams.values():
        whole.add(records)
    order = coordinates(whole.release(set(PARTITIONS), 1000))
    assert len(order) == sum(len(s) for s in streams.values())
    for cut in range(0, len(order), 3):
        done = order[:cut]
        resumed = OrderedMerge(PARTITIONS, CATALOG)
        for (topic, partition), records in streams.items():
            next_offset = 1 + max((o for t, p, o in done if (t, p) == (topic, partition)), default=-1)
            resumed.add(r for r in records if r.offset >= next_offset)
        assert coordinates(resumed.release(set(PARTITIONS), 1000)) == order[cut:]


def test_the_order_uses_catalog_names_not_the_real_topic_names() -> None:
    real = {"a.refs": REFS, "z.assertions": ASSERTIONS}  # real names sort the other way round
    merge = OrderedMerge([("a.refs", 0), ("z.assertions", 0)], real)
    merge.add([record("a.refs", 0, 0, 10), record("z.assertions", 0, 0, 10)])
    released = merge.release({("a.refs", 0), ("z.assertions", 0)}, 10)
    assert [r.topic for r in released] == ["z.assertions", "a.refs"]
