"""The referral service's verbs on the `joinedup` command (loaded through the `joinedup.cli` entry point)."""

from __future__ import annotations

import typer

RUN_GROUP = "run"


def run_group(app: typer.Typer) -> typer.Typer:
    """The shared ``joinedup run`` group: the one another service registered already, or a new one."""
    for group in app.registered_groups:
        if group.name == RUN_GROUP and group.typer_instance is not None:
            return group.typer_instance
    run = typer.Typer(help="Run a joinedup service in the foreground.", no_args_is_help=True)
    app.add_typer(run, name=RUN_GROUP)
    return run


def referral() -> None:
    """The referral worker: intake topics -> canonical events and receipts (settings from the environment:
    KAFKA_BOOTSTRAP_SERVERS, JOINEDUP_REFERRAL_DATA_DIR, JOINEDUP_REFERRAL_TOPIC_PREFIX, ...)."""
    from joinedup.referral.entrypoints.worker import main

    main()


def register(app: typer.Typer) -> None:
    """Add ``joinedup run referral``."""
    run_group(app).command("referral")(referral)
