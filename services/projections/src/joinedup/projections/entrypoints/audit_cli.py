"""``joinedup audit verify [--bootstrap host:port] [--topic name]``: read the whole access audit topic and
check its hash chain. Exit 0 when intact; 1 with every problem listed (an edit, a gap, a reorder, a
duplicate, a broken link, an undecodable message); 2 when the broker cannot be reached."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import AUDIT_ACCESS
from joinedup.projections.audit import recorder
from joinedup.projections.audit.chain import verify
from joinedup.projections.audit.recorder import ChainEntry

console = Console()
errors = Console(stderr=True)

BootstrapOption = Annotated[
    str | None,
    typer.Option("--bootstrap", help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS)."),
]
TopicOption = Annotated[str, typer.Option("--topic", help="The audit topic.")]


def check_chain(entries: list[ChainEntry]) -> list[str]:
    """Every problem of the chain read from the topic, as lines safe to print (no record contents)."""
    problems = [f"undecodable message at offset {e.offset}: {e.error}" for e in entries if e.record is None]
    records = [e.record for e in entries if e.record is not None]
    problems.extend(problem.describe() for problem in verify(records))
    return problems


def register_audit(app: typer.Typer) -> None:
    """Add ``joinedup audit verify`` to the root app."""
    audit_app = typer.Typer(help="The access audit log (joinedup.audit.access).", no_args_is_help=True)

    @audit_app.command("verify")
    def verify_command(bootstrap: BootstrapOption = None, topic: TopicOption = AUDIT_ACCESS) -> None:
        """Check the audit topic's hash chain: every record intact, in sequence, linked to the one before."""
        servers = bootstrap or KafkaSettings().bootstrap_servers
        try:
            entries = list(recorder.read_chain(servers, topic))
        except Exception as error:
            errors.print(f"[red]cannot read {topic} from {servers}: {type(error).__name__}[/red]")
            raise typer.Exit(2) from None
        problems = check_chain(entries)
        if problems:
            for line in problems:
                errors.print(f"[red]{line}[/red]")
            errors.print(
                f"[red]audit chain BROKEN: {len(problems)} problems in {len(entries)} messages[/red]"
            )
            raise typer.Exit(1)
        console.print(f"[green]audit chain intact: {len(entries)} records[/green]")

    app.add_typer(audit_app, name="audit")
