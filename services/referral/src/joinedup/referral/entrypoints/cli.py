"""The referral service's verbs on the `joinedup` command (loaded through the `joinedup.cli` entry point)."""

from __future__ import annotations

import typer

from joinedup.contract.cli import run_group


def referral() -> None:
    """The referral worker: intake topics -> canonical events and receipts (settings from the environment:
    KAFKA_BOOTSTRAP_SERVERS, JOINEDUP_REFERRAL_DATA_DIR, JOINEDUP_REFERRAL_TOPIC_PREFIX, ...)."""
    from joinedup.referral.entrypoints.worker import main

    main()


def register(app: typer.Typer) -> None:
    """Add ``joinedup run referral``."""
    run_group(app).command("referral")(referral)
