"""The identity resolver as a stream handler: one batch of ordered inputs in, identity events out.

It runs inside the runtime's batch transaction (:class:`joinedup.contract.streams.ShardProcessor`): the
resolver's state changes are flushed into that transaction together with the consumed offsets and the
outbox. An assertion the rules refuse (about one record, or joining two different valid NHS numbers) raises
and is dead-lettered by the runtime with its reason; nothing of it is kept.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import Literal

from joinedup.contract.envelope import from_kafka_timestamp
from joinedup.contract.models.event import Event
from joinedup.contract.streams import DatumInput, Input, Output
from joinedup.contract.topics import IDENTITY_EVENTS
from joinedup.projections.identity.mapping import (
    event_key,
    identity_datum,
    resolver_input,
    resolver_input_of,
)
from joinedup.projections.identity.match_model import MatchModel
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store_sqlite import SqliteIdentityStore


class IdentityStreamHandler:
    """Feeds the resolver in input order; publishes what it emits on ``joinedup.identity.events``.

    It reads its inputs in dict form (``reads_datums``): of a canonical event it needs the subject's person
    fields and two envelope ids, and validating the whole contract model cost more than that (the bytes are
    still checked in full by the runtime's decoder). A model :class:`Input` is handled the same way."""

    reads_datums: Literal[True] = True

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

    def handle(self, inputs: Sequence[Input | DatumInput]) -> Sequence[Output]:
        if self.store.out_of_step():  # the last call failed, or the runtime rolled back what it wrote
            self.store.reload()
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
        return outputs

    def _resolve(self, item: Input | DatumInput) -> list[Output]:
        at = from_kafka_timestamp(item.timestamp_ms)
        if isinstance(item, DatumInput):
            message = resolver_input_of(item.avro_name, item.fields, at)
            if message is None:
                return []
            envelope = item.fields["envelope"]
            correlation_id: str = envelope["correlation_id"]
            causation_id: uuid.UUID = envelope["event_id"]
        else:
            message = resolver_input(item.record, at)
            if message is None or not isinstance(item.record, Event):
                return []
            correlation_id = item.record.envelope.correlation_id
            causation_id = item.record.envelope.event_id
        return [
            Output(
                IDENTITY_EVENTS,
                event_key(event),
                identity_datum(event, at, correlation_id=correlation_id, causation_id=causation_id),
            )
            for event in self.resolver.resolve(message)
        ]
