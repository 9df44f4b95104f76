"""The identity worker: ONE ordered resolver over every partition of its inputs (no sharding).

It reads every partition of ``joinedup.referral.events`` and ``joinedup.identity.assertions`` (assigned, no
consumer group: the store's offsets are where it resumes), merges them in one deterministic order
(input_order.py), and runs batches through the shared runtime's :class:`ShardProcessor`: the resolver's
state, the processed input ids, the consumed offsets and the outbox commit in one SQLite transaction per
batch. The runtime's :class:`Relay` publishes the outbox with a transactional producer
(``transactional_id`` ``joinedup.projections.identity``, which fences a zombie worker) and records how far
it got in the same Kafka transaction, so ``read_committed`` readers see every identity event exactly once
whenever the worker is killed. Undecodable input and refused assertions go to ``joinedup.deadletter``.

Run one worker. A standby may wait to take over, but two live workers over one store would each publish.
"""

from __future__ import annotations

import logging
from pathlib import Path

from joinedup.contract.serde import Codec
from joinedup.contract.topics import IDENTITY_ASSERTIONS, REFERRAL_EVENTS
from joinedup.projections.identity.match_model import MatchModel
from joinedup.projections.identity.stream_handler import IdentityStreamHandler
from joinedup.projections.ordered_worker import OrderedWorker, OrderedWorkerConfig, WorkerRole, open_store

log = logging.getLogger(__name__)

SERVICE = "projections"
INPUTS = (REFERRAL_EVENTS, IDENTITY_ASSERTIONS)
READER = "joinedup.projections.identity"
"""Named like a consumer group in dead letters; the worker joins no group."""
RELAY_GROUP = "joinedup.projections.identity-relay"
TRANSACTIONAL_ID = "joinedup.projections.identity"
SOURCE = "urn:joinedup:projections:identity"
ROLE = WorkerRole(
    name="projections.identity",
    inputs=INPUTS,
    reader=READER,
    relay_group=RELAY_GROUP,
    transactional_id=TRANSACTIONAL_ID,
    source=SOURCE,
    anchor=IDENTITY_ASSERTIONS,
)

IdentityWorkerConfig = OrderedWorkerConfig


def store_path(data_dir: Path) -> Path:
    """Where the identity worker keeps its state, offsets and outbox."""
    return data_dir / SERVICE / "identity.sqlite"


class IdentityWorker(OrderedWorker):
    """Consumes, merges, resolves and relays until ``stop`` is set."""

    def __init__(
        self, config: OrderedWorkerConfig, model: MatchModel | None = None, codec: Codec | None = None
    ) -> None:
        store = open_store(store_path(config.data_dir), config)
        try:
            self.handler = IdentityStreamHandler(store.connection, model, measure=config.measure)
        except BaseException:
            store.close()
            raise
        super().__init__(ROLE, config, store, self.handler, codec)
