"""The relay on its own thread: woken from the worker's thread, stopped with a last flush; failures show;
its store connection keeps out of the worker's way (no write lock for nothing, the WAL checkpoints)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from joinedup.contract.outbox import Publication, ShardStore
from joinedup.contract.streams import Relay
from joinedup.projections.ordered_worker import checkpoints_left_to_the_relay
from joinedup.projections.relay_thread import (
    WAL_AUTOCHECKPOINT_PAGES,
    RelayStore,
    RelayThread,
    WalCheckpointer,
    store_file,
)


class FakePositions:
    def __init__(self) -> None:
        self.running = False

    async def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        self.running = False


class FakeRelay:
    """Counts wakes on the thread it runs on; fails on the ``fail_at``-th wake."""

    def __init__(self, store: ShardStore, fail_at: int = 0, connect_s: float = 0.0) -> None:
        self.store = store
        self.connect_s = connect_s
        self.task: asyncio.Task[None] | None = None
        self.wakes = 0
        self.threads: set[str] = set()
        self.stopped = False
        self.fail_at = fail_at
        self.failed: BaseException | None = None

    def start(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.task = asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        await asyncio.sleep(self.connect_s)  # the producer starts, the committed position is read
        self.store.resume_at(1)

    def wake(self) -> None:
        self.threads.add(threading.current_thread().name)
        self.wakes += 1
        if self.wakes == self.fail_at:
            self.failed = RuntimeError("fenced")

    async def stop(self) -> None:
        self.stopped = True
        if self.failed is not None:
            raise self.failed


def running(tmp_path: Path, relays: list[FakeRelay], fail_at: int = 0, connect_s: float = 0.0) -> RelayThread:
    positions = FakePositions()

    def build(store: ShardStore, _positions: Any) -> Relay:
        relays.append(FakeRelay(store, fail_at, connect_s))
        return cast(Relay, relays[-1])

    return RelayThread(
        lambda: RelayStore(tmp_path / "s.sqlite"),
        lambda: cast(Any, positions),
        build,
        name="test-relay",
        check_interval_s=0.01,
    )


def test_wakes_from_the_workers_thread_reach_the_relay_on_its_own_thread_and_stop_flushes_it(
    tmp_path: Path,
) -> None:
    relays: list[FakeRelay] = []
    thread = running(tmp_path, relays)

    async def main() -> None:
        await asyncio.to_thread(thread.start)
        for _ in range(3):
            thread.wake()
        await asyncio.sleep(0.1)
        await thread.stop()

    asyncio.run(main())
    (relay,) = relays
    assert relay.wakes == 3
    assert relay.threads == {"test-relay"}
    assert relay.stopped
    assert thread.failed is None


def test_a_relay_that_gives_up_is_reported_as_failed_and_its_error_is_raised_on_stop(tmp_path: Path) -> None:
    relays: list[FakeRelay] = []
    thread = running(tmp_path, relays, fail_at=1)

    async def main() -> None:
        await asyncio.to_thread(thread.start)
        thread.wake()
        for _ in range(200):
            if thread.failed is not None:
                break
            await asyncio.sleep(0.01)
        assert isinstance(thread.failed, RuntimeError)
        with pytest.raises(RuntimeError, match="fenced"):
            await thread.stop()

    asyncio.run(main())


def test_the_relays_connection_opens_the_workers_own_file(tmp_path: Path) -> None:
    with ShardStore(tmp_path / "worker.sqlite") as store:
        assert store_file(store) == (tmp_path / "worker.sqlite").resolve()


def test_start_returns_only_once_the_relay_has_resumed_at_its_committed_position(tmp_path: Path) -> None:
    relays: list[FakeRelay] = []
    thread = running(tmp_path, relays, connect_s=0.3)

    async def main() -> None:
        await asyncio.to_thread(thread.start)
        (relay,) = relays
        assert isinstance(relay.store, RelayStore)
        assert relay.store.resumed.is_set()  # a batch committed now cannot be taken for a published one
        await thread.stop()

    asyncio.run(main())


def test_marking_sent_with_nothing_below_the_position_takes_no_write_lock(tmp_path: Path) -> None:
    relay_store = RelayStore(tmp_path / "s.sqlite")
    worker = ShardStore(tmp_path / "s.sqlite")
    relay_store.connection.execute("PRAGMA busy_timeout=0")  # a lock it had to wait for would raise at once
    with worker.transaction():  # the worker's batch holds the write lock
        worker.append([Publication("t", b"k", b"v")])
        relay_store.mark_sent(1)
    assert relay_store.pending() == 1
    worker.close()
    relay_store.close()


def test_marking_sent_still_deletes_the_rows_below_the_position(tmp_path: Path) -> None:
    with RelayStore(tmp_path / "s.sqlite") as store:
        with store.transaction():
            store.append([Publication("t", b"k", b"v"), Publication("t", b"k", b"w")])
        store.mark_sent(2)
        assert [row.seq for row in store.unsent(1, 10)] == [2]


def test_while_the_relay_runs_neither_its_commits_nor_the_workers_checkpoint_the_wal(tmp_path: Path) -> None:
    with RelayStore(tmp_path / "s.sqlite") as relay, ShardStore(tmp_path / "s.sqlite") as worker:
        with checkpoints_left_to_the_relay(worker.connection):
            assert worker.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert (
            worker.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == WAL_AUTOCHECKPOINT_PAGES
        )
        assert relay.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0


def test_the_checkpointer_copies_the_wal_into_the_file_from_its_own_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with ShardStore(path) as worker, checkpoints_left_to_the_relay(worker.connection):
        with worker.transaction():
            worker.append([Publication("t", b"k", bytes(1000) + bytes([n % 256])) for n in range(200)])
        before = path.stat().st_size
        checkpointer = WalCheckpointer(path, name="test-checkpoint")
        try:
            asyncio.run(checkpointer.checkpoint())
        finally:
            checkpointer.close()
        assert path.stat().st_size > before + 150_000
        assert worker.pending() == 200


def test_under_a_steady_stream_of_commits_the_checkpointer_keeps_the_wal_short(tmp_path: Path) -> None:
    """A passive checkpoint never finishes while commits keep coming, and only a finished one lets the WAL
    start again from its beginning: without the restart the WAL grew by every commit."""
    path = tmp_path / "s.sqlite"
    written = 0
    checkpointer = WalCheckpointer(path, name="test-checkpoint", restart_after_frames=250)
    stop = threading.Event()

    def checkpoints() -> None:
        loop = asyncio.new_event_loop()
        try:
            while not stop.wait(0.05):
                loop.run_until_complete(checkpointer.checkpoint())
        finally:
            loop.close()

    with ShardStore(path) as worker, checkpoints_left_to_the_relay(worker.connection):
        thread = threading.Thread(target=checkpoints)
        thread.start()
        try:
            for n in range(1200):
                with worker.transaction():
                    worker.append([Publication("t", b"k", bytes([n % 256]) * 8000)])
                written += 8000
                worker.mark_sent(n)
                time.sleep(0.001)  # the next batch is decoded and handled
        finally:
            stop.set()
            thread.join()
            checkpointer.close()
        wal = Path(f"{path}-wal").stat().st_size
    assert written > 9_000_000
    assert wal < written / 2  # it was over 5 times what the batches wrote
