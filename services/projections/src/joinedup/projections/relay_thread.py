"""The runtime's :class:`~joinedup.contract.streams.Relay` on a thread of its own, for an ordered worker.

An ordered worker's batches are synchronous (decode, handle, SQLite commit): on the worker's event loop, a
relay waits for a free turn of the loop at each step of its Kafka transaction (add partitions, produce, add
offsets, commit offsets, end the transaction), so while batches keep coming its identity events wait behind
them. Here the relay runs its own event loop in a thread, over its own connection to the same SQLite file
(WAL: it reads the outbox while the worker writes; its ``mark_sent`` takes the write lock for a moment), and
the worker wakes it after each commit. Correctness is the relay's own: it publishes the outbox rows above
its committed position, in one Kafka transaction with that position, whatever thread it runs on.

The thread also has the store file's WAL checkpointed, on a connection and thread of its own
(:class:`WalCheckpointer`), so that neither the worker's commits nor the relay's copy the WAL into the file
and fsync it while a record or a Kafka transaction waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

from joinedup.contract.outbox import ShardStore
from joinedup.contract.streams import Relay

RelayFactory = Callable[[ShardStore, AIOKafkaConsumer], Relay]
"""Builds the relay over the thread's store connection and its started positions consumer."""

WAL_AUTOCHECKPOINT_PAGES = 1000
"""SQLite's default: a commit that leaves the WAL this long checkpoints it (copies it into the file and
fsyncs it), in the committing thread. While a relay thread runs, no commit does: neither the worker's (its
records would wait) nor the relay's (its Kafka transactions would); the :class:`WalCheckpointer` does."""

WAL_RESTART_FRAMES = 10 * WAL_AUTOCHECKPOINT_PAGES
"""A WAL this long (in pages, about 40 MB) is restarted (:class:`WalCheckpointer`), not only copied."""


class RelayStore(ShardStore):
    """The relay's connection to the worker's file; tells when the relay has resumed at its position.

    The worker must not commit a batch before that: a store that never numbered as far as the relay's
    position is a rebuilt one, whose rows the relay renumbers and publishes, but a batch committed first would
    make it look like the store that published them, and the relay would forget its rows unpublished."""

    def __init__(self, path: Path | str, *, durable: bool = False) -> None:
        super().__init__(path, durable=durable)
        self.resumed = threading.Event()
        self.connection.execute("PRAGMA wal_autocheckpoint=0")  # the relay thread's checkpointer does it

    def resume_at(self, position: int, **options: bool) -> None:
        super().resume_at(position, **options)
        self.resumed.set()

    def mark_sent(self, below_seq: int) -> None:
        """Delete the rows below ``below_seq``, if there are any: the relay calls this before every flush
        too, where there usually are none, and a DELETE takes the file's write lock even when it deletes
        nothing (the worker's next batch would then wait for it in SQLite's busy handler, which sleeps 1 ms
        and more). A read takes no lock."""
        query = "SELECT 1 FROM outbox WHERE seq < ? LIMIT 1"
        if self.connection.execute(query, (below_seq,)).fetchone() is not None:
            super().mark_sent(below_seq)


class WalCheckpointer:
    """Checkpoints a store file's WAL (``PASSIVE``: never waits for, nor blocks, a writer or a reader) on a
    thread and connection of its own, so that copying the WAL into the file and fsyncing it holds up
    neither the worker's batches nor the relay's Kafka transactions. Durability does not depend on it: a
    commit is durable once it is in the WAL.

    A passive checkpoint does not keep the WAL short by itself: the next commit starts the WAL again from
    its beginning only if a checkpoint copied all of it and nothing was committed since, and under a steady
    stream of batches one always is while it copies, so the WAL would grow by every commit for as long as
    the stream lasts. A WAL of ``restart_after_frames`` pages or more is therefore checkpointed with
    ``RESTART``, which waits for the writer (the worker's next commit waits for it in turn) and the readers
    for up to ``restart_wait_ms``, so that the next commit starts the WAL again (else it tries next time)."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        restart_after_frames: int = WAL_RESTART_FRAMES,
        restart_wait_ms: int = 200,
    ) -> None:
        self._path = path
        self._restart_after_frames = restart_after_frames
        self._restart_wait_ms = restart_wait_ms
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._db: sqlite3.Connection | None = None

    async def checkpoint(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._checkpoint)

    def close(self) -> None:
        self._pool.submit(self._close).result()
        self._pool.shutdown()

    def _checkpoint(self) -> None:
        if self._db is None:
            self._db = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
        db = self._db
        _busy, frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames >= self._restart_after_frames:
            db.execute(f"PRAGMA busy_timeout={self._restart_wait_ms}")
            try:
                db.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()  # busy: it tries again next time
            finally:
                db.execute("PRAGMA busy_timeout=30000")

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class RelayThread:
    """Runs a relay until :meth:`stop`; :meth:`wake` may be called from any thread."""

    def __init__(
        self,
        open_store: Callable[[], RelayStore],
        positions: Callable[[], AIOKafkaConsumer],
        relay: RelayFactory,
        *,
        name: str,
        check_interval_s: float = 0.2,
        checkpoint_interval_s: float = 1.0,
    ) -> None:
        """``check_interval_s``: how often the thread looks whether the relay failed;
        ``checkpoint_interval_s``: how often it has the store file's WAL checkpointed (each checkpoint
        fsyncs the file: rarer ones disturb the worker's commits less)."""
        self._open_store = open_store
        self._positions = positions
        self._relay_factory = relay
        self._check_interval_s = check_interval_s
        self._checkpoint_interval_s = checkpoint_interval_s
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._relay: Relay | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    def start(self) -> None:
        """Start the thread; returns once its relay has resumed at its committed position (then the worker
        may commit batches), or raises why it could not."""
        self._thread.start()
        self._started.wait()
        if self._failure is not None:
            self._thread.join()
            raise RuntimeError(f"{self._thread.name} did not start") from self._failure

    def wake(self) -> None:
        loop, relay = self._loop, self._relay
        if loop is not None and relay is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the relay has stopped
                loop.call_soon_threadsafe(relay.wake)

    @property
    def failed(self) -> BaseException | None:
        """What made the relay give up (it then stops its thread), if it did."""
        return self._failure

    async def stop(self) -> None:
        """Publish what is left (the relay's own stop), stop the thread and raise what made the relay fail."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(self._thread.join)
        if self._failure is not None:
            raise self._failure

    # ------------------------------------------------------------------ the thread
    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._run())
        except BaseException as error:
            self._failure = self._failure or error
        finally:
            self._started.set()
            loop.close()

    async def _run(self) -> None:
        self._stop = stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as cleanup:  # undone in reverse order
            store = self._open_store()
            cleanup.callback(store.close)
            positions = self._positions()
            await positions.start()
            cleanup.push_async_callback(positions.stop)
            relay = self._relay_factory(store, positions)
            relay.start()
            self._relay = relay
            cleanup.push_async_callback(relay.stop)
            while not store.resumed.is_set() and relay.failed is None and not stop.is_set():
                await asyncio.sleep(0.005)
            if relay.failed is not None:
                self._failure = relay.failed
                return
            self._started.set()
            checkpointer = WalCheckpointer(store_file(store), name=f"{self._thread.name}-checkpoint")
            cleanup.callback(checkpointer.close)
            await self._watch(relay, checkpointer, stop)

    async def _watch(self, relay: Relay, checkpointer: WalCheckpointer, stop: asyncio.Event) -> None:
        """Until ``stop`` is set or the relay fails: look whether it failed, have the WAL checkpointed."""
        clock = asyncio.get_running_loop().time
        checkpointed = clock()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._check_interval_s)
            if relay.failed is not None:
                self._failure = relay.failed
                return
            if clock() - checkpointed >= self._checkpoint_interval_s:
                await checkpointer.checkpoint()
                checkpointed = clock()


def store_file(store: ShardStore) -> Path:
    """The file a store's connection has open (a relay thread opens its own connection to it)."""
    row = store.connection.execute("PRAGMA database_list").fetchone()
    return Path(str(row[2]))
