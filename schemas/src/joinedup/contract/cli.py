"""The contract's verbs on the ``joinedup`` command: ``joinedup schemas check | list | show | freeze`` and
``joinedup publish`` (the agency publisher, :mod:`joinedup.contract.publish_cli`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.contract import evolution
from joinedup.contract.errors import ContractError
from joinedup.contract.paths import schemas_root
from joinedup.contract.publish_cli import publish_command
from joinedup.contract.schemas import ContractRegistry, SchemaTree
from joinedup.contract.topics import catalog

schemas_app = typer.Typer(
    help="Avro schemas: lint and evolution checks, listing, kept versions.", no_args_is_help=True
)

RootOption = Annotated[
    Path | None, typer.Option("--root", help="The schemas folder (default: the project's schemas/).")
]


RUN_GROUP = "run"


def run_group(app: typer.Typer) -> typer.Typer:
    """The shared ``joinedup run`` group every service adds its verb to: the one another package registered
    already, or a new one (the root CLI loads packages in any order and never imports a service)."""
    for group in app.registered_groups:
        if group.name == RUN_GROUP and group.typer_instance is not None:
            return group.typer_instance
    run = typer.Typer(help="Run a joinedup service in the foreground.", no_args_is_help=True)
    app.add_typer(run, name=RUN_GROUP)
    return run


def register(app: typer.Typer) -> None:
    """Entry point of the ``joinedup.cli`` group: adds ``joinedup schemas ...`` and ``joinedup publish``."""
    app.add_typer(schemas_app, name="schemas")
    app.command("publish")(publish_command)


@schemas_app.command("check")
def check_command(
    root: RootOption = None,
    git: Annotated[
        bool, typer.Option("--git/--no-git", help="Also compare with versions in git history.")
    ] = True,
) -> None:
    """Lint every schema and check it is backward and forward compatible with each previous version."""
    console = Console()
    report = evolution.check(root, use_git=git)
    for note in report.notes:
        console.print(f"[dim]note: {note}[/dim]")
    if report.ok:
        console.print(f"[green]schemas ok[/green]: lint passed, {report.compared} past version(s) compatible")
        return
    for finding in report.findings:
        console.print(f"[red]error[/red] {finding}", soft_wrap=True)
    console.print(f"[red]{len(report.findings)} problem(s)[/red]")
    raise typer.Exit(code=1)


@schemas_app.command("list")
def list_command(root: RootOption = None) -> None:
    """Every record: versions, current fingerprint, and the topics that carry it."""
    try:
        contract = ContractRegistry(SchemaTree.from_directory(root or schemas_root()))
    except ContractError as exc:
        raise typer.BadParameter(str(exc)) from exc
    carried: dict[str, list[str]] = {}
    for spec in catalog().templates:
        for value in spec.values:
            carried.setdefault(value, []).append(spec.name)
    table = Table()
    table.add_column("record", no_wrap=True)
    table.add_column("versions", justify="right")
    table.add_column("fingerprint", no_wrap=True)
    table.add_column("topics")
    for name in contract.names():
        record = contract[name]
        table.add_row(
            name, str(len(record.versions)), record.current.fingerprint_hex, ", ".join(carried.get(name, []))
        )
    Console().print(table)


@schemas_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Full name, e.g. joinedup.intake.ReferralSubmission.")],
    version: Annotated[int | None, typer.Option(help="A kept version (default: the current one).")] = None,
    root: RootOption = None,
) -> None:
    """Print a record's self-contained schema (named types inlined), as other languages' Avro tools need."""
    tree = SchemaTree.from_directory(root or schemas_root())
    versions = dict(tree.versions(name))
    if not versions:
        raise typer.BadParameter(f"unknown record {name}")
    chosen = versions.get(version or max(versions))
    if chosen is None:
        raise typer.BadParameter(f"{name} has versions {sorted(versions)}")
    typer.echo(json.dumps(chosen, indent=2, ensure_ascii=False))


@schemas_app.command("freeze")
def freeze_command(
    names: Annotated[list[str] | None, typer.Argument(help="Records to freeze (default: all).")] = None,
    root: RootOption = None,
) -> None:
    """Keep, in <context>/history/, every version from git history that is not kept yet."""
    written = evolution.freeze(root, names or ())
    for path in written:
        typer.echo(f"kept {path}")
    if not written:
        typer.echo("nothing to keep: every version in git history is kept")
