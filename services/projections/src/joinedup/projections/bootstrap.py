"""The one place that builds the projections service's concrete adapters and runs them.

``joinedup run projections`` runs the identity worker (one ordered resolver over every partition of
``joinedup.referral.events`` and ``joinedup.identity.assertions``, see identity/worker.py) until Ctrl-C or
SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import topic_mapping
from joinedup.contract.topics import catalog
from joinedup.projections.identity.worker import IdentityWorker, IdentityWorkerConfig
from joinedup.projections.settings import ProjectionsSettings

log = logging.getLogger(__name__)


def topic_names(settings: ProjectionsSettings) -> dict[str, str]:
    """Catalog name -> real name (the settings' prefix before every catalog name)."""
    return topic_mapping(settings.topic_prefix, catalog().names())


def identity_worker(
    settings: ProjectionsSettings,
    kafka: KafkaSettings,
    names: Mapping[str, str] | None = None,
    *,
    measure: bool = False,
) -> IdentityWorker:
    """The identity worker over the settings' data folder (its store is opened and loaded here)."""
    return IdentityWorker(
        IdentityWorkerConfig(
            bootstrap=kafka.bootstrap_servers,
            data_dir=settings.data_dir,
            topic_names=dict(names if names is not None else topic_names(settings)),
            max_batch=settings.batch_size,
            durable=settings.durable,
            client_id=kafka.client_id_prefix,
            measure=measure,
        )
    )


async def serve(worker: IdentityWorker, stop: asyncio.Event | None = None) -> None:
    """Run the worker until ``stop`` is set or SIGINT / SIGTERM arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await worker.run(stop)


def run(settings: ProjectionsSettings | None = None) -> None:
    """``joinedup run projections``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = identity_worker(settings or ProjectionsSettings(), KafkaSettings())
    try:
        asyncio.run(serve(worker))
    finally:
        worker.close()


if __name__ == "__main__":
    run()
