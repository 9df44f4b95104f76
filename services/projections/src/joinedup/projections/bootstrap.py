"""The one place that builds the projections service's concrete adapters and runs them.

- ``joinedup run projections`` runs the identity worker (one ordered resolver over every partition of
  ``joinedup.referral.events`` and ``joinedup.identity.assertions``, identity/worker.py) and the person view
  worker (every partition of ``joinedup.referral.events`` and ``joinedup.identity.events`` into one store,
  alerts on ``joinedup.alerts``, person_view/worker.py) as two tasks of one process, until Ctrl-C or SIGTERM.
  If one of them fails, both stop.
- ``joinedup projections rebuild`` replays the person view's inputs from offset 0 into a fresh file and
  puts it in place of the live one; ``joinedup projections hash`` prints the view's canonical hash.
- ``joinedup run api`` serves the query API (uvicorn, one worker) over the person view's file (read-only),
  the consent service's decisions and trails (HTTP), and the access audit topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx
from fastapi import FastAPI

from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import topic_mapping
from joinedup.contract.topics import AUDIT_ACCESS, catalog
from joinedup.contract.vocabularies import vocabularies
from joinedup.projections.api.app import ApiDependencies, Clock, create_app
from joinedup.projections.api.auth import TokenBook
from joinedup.projections.api.consent_trail import HttpConsentTrailPort
from joinedup.projections.api.decisions import HttpDecisionPort
from joinedup.projections.api.view_cache import CachedPersonViews, SqliteDataVersion
from joinedup.projections.audit.recorder import KafkaAuditReader, KafkaAuditSink
from joinedup.projections.identity.worker import IdentityWorker, IdentityWorkerConfig
from joinedup.projections.ordered_worker import OrderedWorkerConfig, WorkerRole
from joinedup.projections.person_view.canonical_hash import view_state_hash
from joinedup.projections.person_view.reader_sqlite import ReadOnlySqlitePersonViewReader, connect_read_only
from joinedup.projections.person_view.store_sqlite import SqlitePersonViewStore
from joinedup.projections.person_view.worker import PersonViewWorker, store_path
from joinedup.projections.settings import ApiSettings, ProjectionsSettings

log = logging.getLogger(__name__)


def topic_names(settings: ProjectionsSettings) -> dict[str, str]:
    """Catalog name -> real name (the settings' prefix before every catalog name)."""
    return topic_mapping(settings.topic_prefix, catalog().names())


def _worker_config(
    settings: ProjectionsSettings, kafka: KafkaSettings, names: Mapping[str, str] | None, *, measure: bool
) -> OrderedWorkerConfig:
    return OrderedWorkerConfig(
        bootstrap=kafka.bootstrap_servers,
        data_dir=settings.data_dir,
        topic_names=dict(names if names is not None else topic_names(settings)),
        max_batch=settings.batch_size,
        durable=settings.durable,
        client_id=kafka.client_id_prefix,
        measure=measure,
    )


def identity_worker(
    settings: ProjectionsSettings,
    kafka: KafkaSettings,
    names: Mapping[str, str] | None = None,
    *,
    measure: bool = False,
) -> IdentityWorker:
    """The identity worker over the settings' data folder (its store is opened and loaded here)."""
    config: IdentityWorkerConfig = _worker_config(settings, kafka, names, measure=measure)
    return IdentityWorker(config)


def person_view_worker(
    settings: ProjectionsSettings,
    kafka: KafkaSettings,
    names: Mapping[str, str] | None = None,
    *,
    path: Path | None = None,
) -> PersonViewWorker:
    """The person view worker over the settings' data folder (or over the store file ``path``)."""
    return PersonViewWorker(_worker_config(settings, kafka, names, measure=False), path=path)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


class Worker(Protocol):
    """Runs until ``stop`` is set (an :class:`OrderedWorker`)."""

    @property
    def role(self) -> WorkerRole: ...

    async def run(self, stop: asyncio.Event | None = None) -> None: ...


async def serve(worker: Worker, stop: asyncio.Event | None = None) -> None:
    """Run one worker until ``stop`` is set or SIGINT / SIGTERM arrives."""
    await serve_all([worker], stop)


async def serve_all(workers: Sequence[Worker], stop: asyncio.Event | None = None) -> None:
    """Run the workers as tasks until ``stop`` is set or SIGINT / SIGTERM arrives; the first one to fail
    stops the others, and its error is raised once they have stopped."""
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    tasks = [asyncio.create_task(w.run(stop), name=w.role.name) for w in workers]
    for task in tasks:
        task.add_done_callback(lambda _task: stop.set())
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


WORKER_ROLES = ("identity", "person-view")
"""The projections workers, in start order: ``joinedup run projections`` runs both in one process,
``joinedup run identity`` / ``joinedup run person-view`` one each (a core each on a bigger machine)."""


def run(settings: ProjectionsSettings | None = None, roles: Sequence[str] = WORKER_ROLES) -> None:
    """Run the workers named in ``roles`` in one process until Ctrl-C or SIGTERM."""
    unknown = sorted(set(roles) - set(WORKER_ROLES))
    if unknown or not roles:
        raise ValueError(f"unknown projections worker role(s) {unknown}; the roles are {WORKER_ROLES}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings or ProjectionsSettings()
    kafka = KafkaSettings()
    workers: list[IdentityWorker | PersonViewWorker] = []
    try:
        if "identity" in roles:
            workers.append(identity_worker(settings, kafka))
        if "person-view" in roles:
            workers.append(person_view_worker(settings, kafka))
        asyncio.run(serve_all(workers))
    finally:
        for worker in reversed(workers):
            worker.close()


# ------------------------------------------------------------------ rebuild and hash


def person_view_path(data_dir: Path) -> Path:
    return store_path(data_dir)


def rebuild_person_view(
    settings: ProjectionsSettings, kafka: KafkaSettings, names: Mapping[str, str] | None = None
) -> tuple[Path, int]:
    """Replay the person view's inputs from offset 0 into a fresh file next to the live one, then put it in
    place of the live one (an atomic rename, its directory then fsynced; the live file's WAL is removed
    first). The worker over that folder must be stopped. The outbox keeps the alerts the replay raised: the
    worker's relay resumes at its position in Kafka and skips those it published already. Returns the path
    and the records read."""
    live = person_view_path(settings.data_dir)
    fresh = live.with_name(live.name + ".rebuild")
    for leftover in _sqlite_files(fresh):
        leftover.unlink(missing_ok=True)
    worker = person_view_worker(settings, kafka, names, path=fresh)
    try:
        processed = asyncio.run(worker.replay())
    finally:
        worker.close()
    for stale in _sqlite_files(live)[1:]:
        stale.unlink(missing_ok=True)
    os.replace(fresh, live)
    _fsync_directory(live.parent)  # the rename itself survives a power cut only once its directory is synced
    return live, processed


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sqlite_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def person_view_hash(data_dir: Path) -> str:
    """The canonical hash of the person view stored under ``data_dir`` (read-only)."""
    path = person_view_path(data_dir)
    if not path.exists():
        raise FileNotFoundError(f"no person view store at {path}")
    db = connect_read_only(path, timeout_s=30.0)
    try:
        return view_state_hash(SqlitePersonViewStore(db))
    finally:
        db.close()


# ------------------------------------------------------------------ the query API


@dataclass
class ApiProcess:
    """The query API's app and what it holds open. The decision pool and the audit producer live on the
    serving event loop: the app opens them when it starts and closes them when it stops."""

    app: FastAPI
    reader: ReadOnlySqlitePersonViewReader
    decisions: HttpDecisionPort
    consent_trail: HttpConsentTrailPort
    audit: KafkaAuditSink
    view_version: SqliteDataVersion

    def close(self) -> None:
        self.consent_trail.close()
        self.view_version.close()
        self.reader.close()


def _utc_now() -> datetime:
    """The API's one clock: the time of decisions asked and of access audited."""
    return datetime.now(UTC)


def build_api(
    settings: ApiSettings,
    kafka: KafkaSettings,
    *,
    consent_client: httpx.Client | None = None,
    clock: Clock = _utc_now,
) -> ApiProcess:
    """The query API over the person view's file (read-only), the consent service (decisions over HTTP to
    ``settings.consent_url``; trails through ``consent_client`` or HTTP) and the audit topic, whose chain tail
    is read here (a broken audit topic fails now, not mid-request). Serve it with uvicorn (uvloop,
    httptools), or a ``TestClient`` used as a context manager: its start-up opens the adapters."""
    tokens = TokenBook.load(settings.tokens_file, vocabularies().agencies.code_set())
    consent_token = settings.consent_token.get_secret_value() if settings.consent_token else ""
    audit_topic = settings.topic_prefix + AUDIT_ACCESS
    view_path = person_view_path(settings.data_dir)
    reader = ReadOnlySqlitePersonViewReader(view_path)
    view_version = SqliteDataVersion(view_path)
    decisions = HttpDecisionPort(settings.consent_url, consent_token, timeout_s=settings.consent_timeout_s)
    trail = HttpConsentTrailPort(settings.consent_url, consent_token, client=consent_client)
    audit = KafkaAuditSink.connect(kafka.bootstrap_servers, topic=audit_topic)
    process = ApiProcess(FastAPI(), reader, decisions, trail, audit, view_version)
    try:
        audit.start()
        process.app = create_app(
            ApiDependencies(
                reader=CachedPersonViews(reader, view_version),
                decisions=decisions,
                audit=audit,
                audit_reader=KafkaAuditReader(kafka.bootstrap_servers, audit_topic),
                consent_trail=trail,
                tokens=tokens,
                clock=clock,
                resources=(decisions, audit),
            )
        )
    except BaseException:
        process.close()
        raise
    return process


def _stopped_already(signum: int, frame: object) -> None:
    """The signal uvicorn stopped for, raised again once it has stopped: nothing left to do."""


def run_api(settings: ApiSettings | None = None, kafka: KafkaSettings | None = None) -> None:
    """``joinedup run api``: the query API (uvicorn on uvloop + httptools, one worker, no access log) until
    Ctrl-C or SIGTERM (uvicorn's own signal handling)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings or ApiSettings()
    process = build_api(settings, kafka or KafkaSettings())
    try:
        config = uvicorn.Config(
            process.app,
            host=settings.host,
            port=settings.port,
            workers=1,
            access_log=False,
            loop="uvloop",
            http="httptools",
        )
        # uvicorn stops gracefully on SIGINT / SIGTERM, then raises the signal again for the handler that
        # was there before it: let that one do nothing, so the adapters close and the exit status is 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _stopped_already)
        uvicorn.Server(config).run()
    finally:
        process.close()


if __name__ == "__main__":
    run()
