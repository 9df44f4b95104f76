"""The projections service's verbs on the `joinedup` command (through the `joinedup.cli` entry point).

- ``joinedup run projections``: the identity and person view workers (``JOINEDUP_PROJECTIONS_*``).
- ``joinedup run api``: the query API (settings from ``JOINEDUP_API_*``).
- ``joinedup projections rebuild [--data-dir]``: replay the person view from offset 0 into a fresh store.
- ``joinedup projections hash [--data-dir]``: the person view's canonical hash.
- ``joinedup identity export [--from-topic]``: ``agency,local_person_id,person_id`` for every record (CSV).
- ``joinedup identity explain <agency> <local_id>``: why a record sits in its person (JSON).
- ``joinedup identity assert --same|--different A/x B/y --by USER --reason TEXT``: publish an assertion.

Output names records by reference, field names and scores only: never names, numbers or dates of birth.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from joinedup.contract.cli import run_group
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import IDENTITY_ASSERTIONS, IDENTITY_EVENTS
from joinedup.projections.entrypoints.audit_cli import register_audit
from joinedup.projections.settings import ProjectionsSettings

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The projections data folder (default: JOINEDUP_PROJECTIONS_DATA_DIR)."),
]


def _settings(data_dir: Path | None) -> ProjectionsSettings:
    settings = ProjectionsSettings()
    return settings if data_dir is None else settings.model_copy(update={"data_dir": data_dir})


def _open_store(settings: ProjectionsSettings) -> sqlite3.Connection:
    from joinedup.projections.identity.worker import store_path

    path = store_path(settings.data_dir)
    if not path.exists():
        typer.echo(f"no identity store at {path} (run the worker, or use --from-topic)", err=True)
        raise typer.Exit(code=2)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def run_projections() -> None:
    """The projections workers: identity resolution (joinedup.referral.events, joinedup.identity.assertions
    -> joinedup.identity.events) and the person view (joinedup.referral.events, joinedup.identity.events ->
    joinedup.alerts) (KAFKA_BOOTSTRAP_SERVERS, JOINEDUP_PROJECTIONS_DATA_DIR,
    JOINEDUP_PROJECTIONS_TOPIC_PREFIX, JOINEDUP_PROJECTIONS_BATCH_SIZE)."""
    from joinedup.projections.bootstrap import run

    run()


def run_identity() -> None:
    """The identity worker alone (what `run projections` runs beside the person view); same settings."""
    from joinedup.projections.bootstrap import run

    run(roles=("identity",))


def run_person_view() -> None:
    """The person view worker alone (what `run projections` runs beside identity); same settings."""
    from joinedup.projections.bootstrap import run

    run(roles=("person-view",))


def run_api() -> None:
    """The query API for caseworkers and DPOs (KAFKA_BOOTSTRAP_SERVERS, JOINEDUP_API_DATA_DIR, _HOST, _PORT,
    _TOKENS_FILE, _CONSENT_URL, _CONSENT_TOKEN, _TOPIC_PREFIX)."""
    from joinedup.projections.bootstrap import run_api as serve_api

    serve_api()


def rebuild(data_dir: DataDir = None) -> None:
    """Replay joinedup.referral.events and joinedup.identity.events from offset 0 into a fresh person view
    store, then replace the live one. Stop the projections worker first (or use another --data-dir)."""
    from joinedup.projections.bootstrap import rebuild_person_view

    path, processed = rebuild_person_view(_settings(data_dir), KafkaSettings())
    typer.echo(f"rebuilt {path} from {processed} records")


def hash_(data_dir: DataDir = None) -> None:
    """Print the person view's canonical hash (equal hashes: equal views)."""
    from joinedup.projections.bootstrap import person_view_hash

    try:
        typer.echo(person_view_hash(_settings(data_dir).data_dir))
    except FileNotFoundError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from None


def export(
    data_dir: DataDir = None,
    from_topic: Annotated[
        bool,
        typer.Option("--from-topic", help="Replay joinedup.identity.events instead of reading the store."),
    ] = False,
) -> None:
    """Print agency,local_person_id,person_id for every record (CSV, sorted)."""
    from joinedup.projections.identity.explain import EXPORT_HEADER, export_csv

    settings = _settings(data_dir)
    if from_topic:
        import csv

        from joinedup.projections.identity.topic_membership import membership_from_topic

        membership = membership_from_topic(
            KafkaSettings().bootstrap_servers, settings.topic_prefix + IDENTITY_EVENTS
        )
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(EXPORT_HEADER)
        writer.writerows((k.agency, k.local_person_id, p) for k, p in membership.partition().items())
        return
    from joinedup.projections.identity.store_sqlite import SqliteIdentityStore

    db = _open_store(settings)
    try:
        sys.stdout.write(export_csv(SqliteIdentityStore(db, create=False)))
    finally:
        db.close()


def explain(
    agency: Annotated[str, typer.Argument(help="The agency holding the record.")],
    local_id: Annotated[str, typer.Argument(help="The agency's local person id.")],
    data_dir: DataDir = None,
) -> None:
    """Why a record sits in its person: its fellow records, the links and their evidence (JSON)."""
    from joinedup.projections.identity.explain import UnknownRecordError
    from joinedup.projections.identity.explain import explain as explain_record
    from joinedup.projections.identity.records import RecordKey
    from joinedup.projections.identity.store_sqlite import SqliteIdentityStore

    db = _open_store(_settings(data_dir))
    try:
        store = SqliteIdentityStore(db, create=False)
        try:
            explanation = explain_record(store, RecordKey(agency, local_id))
        except UnknownRecordError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(code=1) from None
        typer.echo(explanation.model_dump_json(indent=2))
    finally:
        db.close()


def assert_(
    first: Annotated[str, typer.Argument(help="One record, <agency>/<local_person_id>.")],
    second: Annotated[str, typer.Argument(help="The other record, <agency>/<local_person_id>.")],
    by: Annotated[str, typer.Option("--by", help="The asserting user's id (not a name).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (no personal data).")],
    same: Annotated[bool, typer.Option("--same/--different", help="Same person, or different persons.")],
    source_agency: Annotated[str, typer.Option("--agency", help="The asserting user's agency.")] = "joinedup",
) -> None:
    """Publish "same person" / "not the same person" for two records on joinedup.identity.assertions."""
    from joinedup.projections.identity.assertion_publisher import (
        BadRecordReferenceError,
        build_assertion,
        parse_record_ref,
        publish_assertion,
    )

    if not by.strip() or not reason.strip():
        typer.echo("--by and --reason must not be empty", err=True)
        raise typer.Exit(code=2)
    try:
        assertion = build_assertion(
            "same" if same else "different",
            parse_record_ref(first),
            parse_record_ref(second),
            asserted_by=by,
            reason=reason,
            at=datetime.now(UTC),  # the moment the user asserts it: the CLI is this event's source
            assertion_id=uuid.uuid4(),
            source_agency=source_agency,
        )
    except BadRecordReferenceError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(code=2) from None
    settings = ProjectionsSettings()
    publish_assertion(
        KafkaSettings().bootstrap_servers, settings.topic_prefix + IDENTITY_ASSERTIONS, assertion
    )
    typer.echo(f"published {assertion.short_name()} {assertion.assertion_id}")


def register(app: typer.Typer) -> None:
    """Add ``identity`` (export, explain, assert), ``projections`` (rebuild, hash), ``run projections`` and
    ``run api`` to the root ``joinedup`` app."""
    identity = typer.Typer(help="Identity resolution: export, explain, assert.", no_args_is_help=True)
    identity.command("export")(export)
    identity.command("explain")(explain)
    identity.command("assert")(assert_)
    app.add_typer(identity, name="identity")
    projections = typer.Typer(help="The person view: rebuild, hash.", no_args_is_help=True)
    projections.command("rebuild")(rebuild)
    projections.command("hash")(hash_)
    app.add_typer(projections, name="projections")
    run = run_group(app)
    run.command("projections")(run_projections)
    run.command("identity")(run_identity)
    run.command("person-view")(run_person_view)
    run.command("api")(run_api)
    register_audit(app)
