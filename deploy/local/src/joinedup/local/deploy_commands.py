"""`joinedup deploy render [--check]`: the Kubernetes resources generated from the topic catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from joinedup.local.manifests import k8s_dir, rendered_files, stale_files, write_files

console = Console(stderr=True)

deploy_app = typer.Typer(
    help="Deployment files: Strimzi topics and users generated from the topic catalog.", no_args_is_help=True
)


@deploy_app.callback()
def deploy_group() -> None:
    """Deployment files (deploy/compose.yaml, deploy/k8s/)."""


@deploy_app.command("render")
def render(
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 when a checked-in file differs from the catalog."
        ),
    ] = False,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the generated files live (default: deploy/k8s).")
    ] = None,
) -> None:
    """Write deploy/k8s/topics.yaml and users.yaml from the topic catalog and the agency vocabulary.

    topics.yaml: a Strimzi KafkaTopic per catalog topic. users.yaml: a KafkaUser with ACLs per agency (its own
    intake and receipts topics only) and per service process.
    """
    folder = directory or k8s_dir()
    rendered = rendered_files()
    if check:
        stale = stale_files(folder, rendered)
        if stale:
            console.print(
                f"[bold red]stale:[/] {', '.join(stale)} in {folder} differ from the topic catalog; "
                "run `joinedup deploy render`",
                highlight=False,
            )
            raise typer.Exit(code=1)
        console.print(f"{', '.join(rendered)} in {folder} match the topic catalog", highlight=False)
        return
    changed = write_files(folder, rendered)
    if changed:
        console.print("wrote " + ", ".join(str(p) for p in changed), highlight=False)
    else:
        console.print(f"{', '.join(rendered)} in {folder} already up to date", highlight=False)
