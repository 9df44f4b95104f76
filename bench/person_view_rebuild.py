"""Rebuild speed of the person view projection: apply N synthetic canonical events (referrals with status
changes, assessments with repeats, contacts reported twice, identity events with merges) to a fresh SQLite
store in batches of one transaction each, then compute the canonical hash. No broker, no decoding: this is the
projection's own cost.

    .venv/bin/python bench/person_view_rebuild.py --events 100000

Prints events/s for the rebuild, the hash time, and what the stream contained.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from joinedup.projections.person_view.canonical_hash import view_state_hash
from joinedup.projections.person_view.event_factory import synthetic_stream
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store_sqlite import open_person_view_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    started = time.perf_counter()
    events = synthetic_stream(args.events)
    generated = time.perf_counter() - started
    kinds = Counter(e.envelope.event_type for e in events)

    with tempfile.TemporaryDirectory() as tmp:
        shard, store = open_person_view_store(Path(tmp) / "person-view.sqlite")
        with shard:
            projector = PersonViewProjector(store)
            alerts = 0
            started, cpu = time.perf_counter(), time.process_time()
            for start in range(0, len(events), args.batch):
                with shard.transaction():
                    alerts += len(projector.apply_all(events[start : start + args.batch]))
                    shard.save_offsets({("joinedup.referral.events", 0): start + args.batch})
            rebuild, rebuild_cpu = time.perf_counter() - started, time.process_time() - cpu
            started = time.perf_counter()
            digest = view_state_hash(store)
            hashing = time.perf_counter() - started
            persons = len(store.person_ids())
            size_mb = (Path(tmp) / "person-view.sqlite").stat().st_size / 1e6

    print("## Person view rebuild (SQLite, no broker)")
    print()
    print(f"- events: {len(events):,} ({', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))})")
    print(f"- persons: {persons:,}; alerts raised: {alerts:,}; generated in {generated:.1f} s (not counted)")
    print(
        f"- rebuild: {rebuild:.1f} s wall = **{len(events) / rebuild:,.0f} events/s** "
        f"(batches of {args.batch}); {rebuild_cpu:.1f} s CPU = {len(events) / rebuild_cpu:,.0f} events/s "
        "of CPU time (the figure on an idle core)"
    )
    print(
        f"- canonical hash of the whole view: {hashing:.1f} s ({digest[:16]}...); store file {size_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
