"""The person view worker: ONE ordered projector over every partition of its inputs (no sharding).

A person's events span the partitions of ``joinedup.referral.events`` (6, keyed by record) and
``joinedup.identity.events`` (1), so the view is one store: the worker assigns itself every partition of both
(no consumer group), merges them in one deterministic order (identity/input_order.py) and runs batches
through the runtime's :class:`ShardProcessor` (see :mod:`joinedup.projections.ordered_worker`): the view's
rows, the processed event ids, the consumed offsets and the outbox commit in one SQLite transaction per batch
(``<data_dir>/projections/person-view.sqlite``, WAL). The runtime's :class:`Relay` publishes the
``RepeatAssessmentDetected`` alerts on ``joinedup.alerts`` with a transactional producer
(``transactional_id`` ``joinedup.projections.person-view``), exactly once for ``read_committed`` readers.

The query API reads the same file, read-only (WAL lets it read while the worker writes).
"""

from __future__ import annotations

from pathlib import Path

from joinedup.contract.serde import Codec
from joinedup.contract.topics import IDENTITY_EVENTS, REFERRAL_EVENTS
from joinedup.projections.ordered_worker import OrderedWorker, OrderedWorkerConfig, WorkerRole, open_store
from joinedup.projections.person_view.shard_handler import PersonViewHandler

SERVICE = "projections"
STORE_FILE = "person-view.sqlite"
ROLE = WorkerRole(
    name="projections.person-view",
    inputs=(REFERRAL_EVENTS, IDENTITY_EVENTS),
    reader="joinedup.projections.person-view",
    relay_group="joinedup.projections.person-view-relay",
    transactional_id="joinedup.projections.person-view",
    source="urn:joinedup:projections:person-view",
    anchor=IDENTITY_EVENTS,
)


def store_path(data_dir: Path) -> Path:
    """Where the person view keeps its rows, offsets and outbox."""
    return data_dir / SERVICE / STORE_FILE


class PersonViewWorker(OrderedWorker):
    """Consumes, merges, projects and relays alerts until ``stop`` is set (or, with :meth:`replay`, reads
    every input to its end without publishing)."""

    def __init__(
        self, config: OrderedWorkerConfig, codec: Codec | None = None, *, path: Path | None = None
    ) -> None:
        store = open_store(path or store_path(config.data_dir), config)
        try:
            self.handler = PersonViewHandler(store.connection)  # creates the view's tables (autocommit)
        except BaseException:
            store.close()
            raise
        super().__init__(ROLE, config, store, self.handler, codec)
