"""The runtime's :class:`~joinedup.contract.streams.Relay` on a thread of its own, for an ordered worker.

An ordered worker's batches are synchronous (decode, handle, SQLite commit): on the worker's event loop, a
relay waits for a free turn of the loop at each step of its Kafka transaction (add partitions, produce, add
offsets, commit offsets, end the transaction), so while batches keep coming its identity events wait behind
them. Here the relay runs its own event loop in a thread, over its own connection to the same SQLite file
(WAL: it reads the outbox while the worker writes; its ``mark_sent`` takes the write lock for a moment), and
the worker wakes it after each commit. Correctness is the relay's own: it publishes the outbox rows above
its committed position, in one Kafka transaction with that position, whatever thread it runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

from joinedup.contract.outbox import ShardStore
from joinedup.contract.streams import Relay

RelayFactory = Callable[[ShardStore, AIOKafkaConsumer], Relay]
"""Builds the relay over the thread's store connection and its started positions consumer."""


class RelayStore(ShardStore):
    """The relay's connection to the worker's file; tells when the relay has resumed at its position.

    The worker must not commit a batch before that: a store that never numbered as far as the relay's
    position is a rebuilt one, whose rows the relay renumbers and publishes, but a batch committed first would
    make it look like the store that published them, and the relay would forget its rows unpublished."""

    def __init__(self, path: Path | str, *, durable: bool = False) -> None:
        super().__init__(path, durable=durable)
        self.resumed = threading.Event()

    def resume_at(self, position: int, **options: bool) -> None:
        super().resume_at(position, **options)
        self.resumed.set()


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
    ) -> None:
        self._open_store = open_store
        self._positions = positions
        self._relay_factory = relay
        self._check_interval_s = check_interval_s
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
        self._stop = asyncio.Event()
        store = self._open_store()
        try:
            positions = self._positions()
            await positions.start()
            try:
                relay = self._relay_factory(store, positions)
                relay.start()
                self._relay = relay
                try:
                    while not store.resumed.is_set() and relay.failed is None and not self._stop.is_set():
                        await asyncio.sleep(0.005)
                    if relay.failed is not None:
                        self._failure = relay.failed
                        return
                    self._started.set()
                    while not self._stop.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop.wait(), self._check_interval_s)
                        if relay.failed is not None:
                            self._failure = relay.failed
                            break
                finally:
                    await relay.stop()
            finally:
                await positions.stop()
        finally:
            store.close()


def store_file(store: ShardStore) -> Path:
    """The file a store's connection has open (a relay thread opens its own connection to it)."""
    row = store.connection.execute("PRAGMA database_list").fetchone()
    return Path(str(row[2]))
