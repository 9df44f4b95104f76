"""kill -9 of a projection worker at random moments, then restart: the view and the alerts equal those of an
uninterrupted run (state, offsets and outbox commit in one SQLite transaction; redelivery is idempotent)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from joinedup.contract.outbox import ShardStore
from joinedup.projections.person_view.canonical_hash import view_state_hash
from joinedup.projections.person_view.event_factory import synthetic_stream
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store import MemoryPersonViewStore
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore

EVENTS = 2000
BATCH = 100
REDELIVERED = 37  # a restarted worker re-reads this many events it had committed already (at-least-once)

WORKER = """
import sys
from joinedup.contract.outbox import Publication
from joinedup.projections.person_view.event_factory import synthetic_stream
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store_sqlite import open_person_view_store

path, count, batch, redelivered = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
events = synthetic_stream(count)
shard, store = open_person_view_store(path)
projector = PersonViewProjector(store)
position = max(0, shard.next_offsets().get(("stream", 0), 0) - redelivered)
print("ready", flush=True)
while position < len(events):
    with shard.transaction():
        alerts = projector.apply_all(events[position : position + batch])
        shard.append([Publication("alerts", a.person_id.encode(), a.alert_id.encode()) for a in alerts])
        position = min(position + batch, len(events))
        shard.save_offsets({("stream", 0): position})
print("done", flush=True)
"""


def start_worker(path: Path) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(EVENTS), str(BATCH), str(REDELIVERED)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready"
    return worker


@pytest.mark.slow
def test_a_worker_killed_at_random_moments_ends_with_the_view_of_an_uninterrupted_run(tmp_path: Path) -> None:
    rng = random.Random(11)
    path = tmp_path / "person-view.sqlite"
    progress: list[int] = []
    for _ in range(2):
        worker = start_worker(path)
        time.sleep(rng.uniform(0.02, 0.12))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        with ShardStore(path) as shard:
            progress.append(shard.next_offsets().get(("stream", 0), 0))
    assert progress[-1] < EVENTS  # every kill interrupted the stream part way
    worker = start_worker(path)
    out, _ = worker.communicate(timeout=120)
    assert out.strip() == "done"

    reference = MemoryPersonViewStore()
    expected_alerts = sorted(
        a.alert_id for a in PersonViewProjector(reference).apply_all(synthetic_stream(EVENTS))
    )
    with ShardStore(path) as shard:
        assert shard.next_offsets() == {("stream", 0): EVENTS}
        store = SqlitePersonViewStore(shard.connection)
        assert view_state_hash(store) == view_state_hash(reference)
        published = sorted(row.publication.value.decode() for row in shard.unsent(1, 100_000))
    assert published == expected_alerts
    assert expected_alerts
