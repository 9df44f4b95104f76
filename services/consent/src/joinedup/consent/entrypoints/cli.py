"""The consent service's verbs on the `joinedup` command (loaded through the `joinedup.cli` entry point)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this service's commands to the root `joinedup` app (its worker and tools land with its issue)."""
    del app
