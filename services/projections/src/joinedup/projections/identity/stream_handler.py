"""The identity resolver as a stream handler: one batch of ordered inputs in, identity events out.

It runs inside the runtime's batch transaction (:class:`joinedup.contract.streams.ShardProcessor`): the
resolver's state changes are flushed into that transaction together with the consumed offsets and the
outbox. An assertion the rules refuse (about one record, or joining two different valid NHS numbers) raises
and is dead-lettered by the runtime with its reason; nothing of it is kept.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

from joinedup.contract.envelope import from_kafka_timestamp
from joinedup.contract.models.event import Event
from joinedup.contract.streams import Input, Output
from joinedup.contract.topics import IDENTITY_EVENTS
from joinedup.projections.identity.mapping import event_key, identity_event, resolver_input
from joinedup.projections.identity.match_model import MatchModel
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store_sqlite import SqliteIdentityStore


class IdentityStreamHandler:
    """Feeds the resolver in input order; publishes what it emits on ``joinedup.identity.events``."""

    def __init__(
        self, db: sqlite3.Connection, model: MatchModel | None = None, *, measure: bool = False
    ) -> None:
        self.store = SqliteIdentityStore(db)
        self.resolver = IdentityResolver(self.store, model)
        self.measure = measure
        self.latencies_ns: list[int] = []
        """Per-input resolution time (resolve + mapping), when ``measure`` is on (benchmarks only)."""
        self.cpu_ns: list[int] = []
        """The same, in this thread's CPU time (what is left when the machine's other processes are not)."""
        self._dirty = False

    def handle(self, inputs: Sequence[Input]) -> Sequence[Output]:
        if self._dirty:  # the last call failed and its transaction (or savepoint) was rolled back
            self.store.reload()
            self._dirty = False
        self._dirty = True
        outputs: list[Output] = []
        for item in inputs:
            if not self.measure:
                outputs.extend(self._resolve(item))
                continue
            started, cpu = time.perf_counter_ns(), time.thread_time_ns()
            outputs.extend(self._resolve(item))
            self.latencies_ns.append(time.perf_counter_ns() - started)
            self.cpu_ns.append(time.thread_time_ns() - cpu)
        self.store.flush()
        self._dirty = False
        return outputs

    def _resolve(self, item: Input) -> list[Output]:
        at = from_kafka_timestamp(item.timestamp_ms)
        message = resolver_input(item.record, at)
        if message is None or not isinstance(item.record, Event):
            return []
        return [
            Output(IDENTITY_EVENTS, event_key(event), identity_event(event, item.record, at))
            for event in self.resolver.resolve(message)
        ]
