"""The person view as a stream-runtime shard handler (``joinedup.contract.streams.ShardHandler``).

Inputs: canonical events from ``joinedup.referral.events`` and ``joinedup.identity.events``. Every input is
applied in order inside the runtime's batch transaction; the alerts it raises are returned for the outbox, on
``joinedup.alerts`` keyed by person id. ``recorded_at`` of an alert is the triggering input's Kafka timestamp.

The view needs every record's events and every identity event in one place: run it as ONE shard (all
partitions of both topics to one worker and one store), since ``joinedup.referral.events`` (6 partitions) and
``joinedup.identity.events`` (1 partition) are not co-partitioned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from joinedup.contract.envelope import from_kafka_timestamp
from joinedup.contract.models.event import Event
from joinedup.contract.streams import Input, Output
from joinedup.contract.topics import ALERTS
from joinedup.projections.person_view.projector import PersonViewProjector
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore


class PersonViewHandler:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.store = SqlitePersonViewStore(connection)
        self.projector = PersonViewProjector(self.store)

    def handle(self, inputs: Sequence[Input]) -> Sequence[Output]:
        outputs: list[Output] = []
        for one in inputs:
            if not isinstance(one.record, Event):
                continue
            for alert in self.projector.apply(one.record, from_kafka_timestamp(one.timestamp_ms)):
                outputs.append(Output(ALERTS, alert.person_id, alert))
        return outputs


def person_view_handler(connection: sqlite3.Connection, shard: int) -> PersonViewHandler:
    """The runtime's ``HandlerFactory`` for the person view (the shard index does not matter: one shard)."""
    return PersonViewHandler(connection)
