"""The deterministic merge of several partitions: (timestamp, catalog topic, partition, offset), released only
while every partition has a head or is caught up."""

from __future__ import annotations

import random

from joinedup.contract.ordered_merge import OrderedMerge, RawRecord

A, B = "t.joinedup.intake.police", "t.joinedup.intake.probation"
CATALOG = {A: "joinedup.intake.police", B: "joinedup.intake.probation"}
PARTITIONS = [(A, 0), (A, 1), (B, 0)]


def record(topic: str, partition: int, offset: int, timestamp_ms: int) -> RawRecord:
    return RawRecord(topic, partition, offset, timestamp_ms, None, b"")


def test_the_merge_of_partitions_read_to_their_end_is_the_sorted_log_however_it_was_buffered() -> None:
    rng = random.Random(11)
    log = {
        p: [record(p[0], p[1], o, rng.randrange(0, 40)) for o in range(rng.randrange(10, 30))]
        for p in PARTITIONS
    }
    for stream in log.values():  # a partition's timestamps never go back (the broker's clock)
        stream[:] = [
            record(r.topic, r.partition, r.offset, t)
            for r, t in zip(stream, sorted(r.timestamp_ms for r in stream), strict=True)
        ]
    merge = OrderedMerge(reversed(PARTITIONS), CATALOG)
    released: list[RawRecord] = []
    cursors = dict.fromkeys(PARTITIONS, 0)
    while any(cursors[p] < len(log[p]) for p in PARTITIONS):
        p = rng.choice([p for p in PARTITIONS if cursors[p] < len(log[p])])
        n = rng.randrange(1, 6)
        merge.add(log[p][cursors[p] : cursors[p] + n])
        cursors[p] += n
        done = {q for q in PARTITIONS if cursors[q] >= len(log[q])}
        released.extend(merge.release(done, rng.randrange(1, 8)))
    released.extend(merge.release(set(PARTITIONS), 10_000))
    expected = sorted(
        (r for stream in log.values() for r in stream),
        key=lambda r: (r.timestamp_ms, CATALOG[r.topic], r.partition, r.offset),
    )
    assert released == expected


def test_an_empty_partition_that_may_still_receive_a_record_holds_every_other_back() -> None:
    merge = OrderedMerge(PARTITIONS, CATALOG)
    merge.add([record(A, 0, 0, 5), record(A, 1, 0, 6)])
    assert merge.release({(A, 0), (A, 1)}, 10) == []
    assert merge.waiting_for() == [(B, 0)]
    merge.add([record(B, 0, 0, 1)])
    assert [(r.topic, r.offset) for r in merge.release(set(), 10)] == [(B, 0)]
