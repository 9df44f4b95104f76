"""The one place that builds the consent service's concrete adapters and runs them.

``joinedup run consent`` runs, on one event loop: the intake runtime (stream runtime, group
``joinedup.consent.intake``), the decision-state follower (every partition of ``joinedup.consent.events``)
and the HTTP API (uvicorn). If one of them stops, all stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI

from joinedup.consent.adapters.intake_shard import ConsentIntakeHandler
from joinedup.consent.adapters.publisher_kafka import KafkaAgreementPublisher
from joinedup.consent.adapters.store_sqlite import SqliteConsentStore
from joinedup.consent.app.handlers import ConsentService
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.domain.codes import KnownCodes
from joinedup.consent.entrypoints.api import create_app
from joinedup.consent.entrypoints.tokens import TokenBook
from joinedup.consent.entrypoints.worker import DecisionStateFollower
from joinedup.consent.settings import SERVICE, ConsentSettings
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import RuntimeConfig, StreamRuntime, topic_mapping
from joinedup.contract.topics import CONSENT_EVENTS, catalog, intake_topics

log = logging.getLogger(__name__)

INTAKE_PURPOSE = "intake"
STATE_FILE = "decision-state.sqlite"


def _wall_clock() -> datetime:
    """Stamps DPO commands as they arrive at the API (the only clock the service reads)."""
    return datetime.now(UTC)


def intake_handlers(codes: KnownCodes) -> Callable[[sqlite3.Connection, int], ConsentIntakeHandler]:
    def build(db: sqlite3.Connection, shard: int) -> ConsentIntakeHandler:
        del shard
        return ConsentIntakeHandler(db, codes)

    return build


@dataclass
class ConsentProcess:
    """Everything one consent process runs."""

    service: ConsentService
    store: SqliteConsentStore
    runtime: StreamRuntime
    follower: DecisionStateFollower
    publisher: KafkaAgreementPublisher
    app: FastAPI

    def close(self) -> None:
        self.publisher.close()
        self.store.close()


def build(
    settings: ConsentSettings,
    kafka: KafkaSettings,
    *,
    topic_names: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = _wall_clock,
) -> ConsentProcess:
    """Build a consent process. ``topic_names`` maps catalog names to real ones (default: the settings'
    topic prefix before every catalog name)."""
    names = dict(topic_names or topic_mapping(settings.topic_prefix, catalog().names()))
    codes = known_codes()
    state_dir = settings.data_dir / SERVICE
    state_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteConsentStore(state_dir / STATE_FILE)
    service = ConsentService(store, codes)
    runtime = StreamRuntime(
        RuntimeConfig(
            service=SERVICE,
            purpose=INTAKE_PURPOSE,
            inputs=intake_topics(),
            bootstrap=kafka.bootstrap_servers,
            data_dir=settings.data_dir,
            topic_names=names,
            max_batch=settings.batch_size,
            client_id=kafka.client_id_prefix,
            # groups and transactional ids per topic prefix: two deployments sharing a cluster never fence
            namespace=settings.topic_prefix,
        ),
        intake_handlers(codes),
    )
    follower = DecisionStateFollower(
        service,
        bootstrap=kafka.bootstrap_servers,
        topic_names=names,
        max_batch=settings.batch_size,
        client_id=f"{kafka.client_id_prefix}.consent.state",
    )
    publisher = KafkaAgreementPublisher(
        kafka.bootstrap_servers,
        topic=names.get(CONSENT_EVENTS, CONSENT_EVENTS),
        client_id=f"{kafka.client_id_prefix}.consent.api",
    )
    app = create_app(
        service,
        codes,
        TokenBook.load(settings.tokens_file),
        publisher,
        clock=clock,
        max_questions=settings.max_questions,
    )
    return ConsentProcess(service, store, runtime, follower, publisher, app)


async def run_loops(process: ConsentProcess, stop: asyncio.Event) -> None:
    """The intake runtime and the decision-state follower until ``stop`` is set or one of them fails."""
    tasks = [
        asyncio.create_task(process.runtime.run(stop), name="consent intake"),
        asyncio.create_task(process.follower.run(stop), name="consent state"),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        for task in done:
            task.result()  # raises what stopped it
    finally:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def serve(
    process: ConsentProcess, settings: ConsentSettings, stop: asyncio.Event | None = None
) -> None:
    """The loops and the API on one event loop, until Ctrl-C / SIGTERM, ``stop``, or a loop fails."""
    stop = stop or asyncio.Event()
    server = uvicorn.Server(
        uvicorn.Config(
            process.app,
            host=settings.api_host,
            port=settings.api_port,
            log_level="info",
            access_log=False,  # no log line per decision request (the query API audits every read)
        )
    )
    loops = asyncio.create_task(run_loops(process, stop), name="consent loops")
    loops.add_done_callback(lambda _: setattr(server, "should_exit", True))

    async def stop_server() -> None:
        await stop.wait()
        server.should_exit = True

    stopper = asyncio.create_task(stop_server(), name="consent api stop")
    try:
        await server.serve()
    finally:
        stop.set()
        await stopper
        await loops


def _stopped_already(signum: int, frame: object) -> None:
    """The signal uvicorn stopped for, raised again once it has stopped: nothing left to do."""


def run(settings: ConsentSettings) -> None:
    """``joinedup run consent``: until Ctrl-C or SIGTERM, then exit 0 once everything has stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    process = build(settings, KafkaSettings())
    try:
        # uvicorn stops gracefully on SIGINT / SIGTERM, then raises the signal again for the handler that was
        # there before it: let that one do nothing, so the stores close and the exit status is 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stopped_already)
        asyncio.run(serve(process, settings))
    finally:
        process.close()
