"""``joinedup publish --agency <id> FILE.jsonl``: publish JSON-lines submissions and print their receipts.

Every line is checked first (JSON, ``type``, the model, the vocabularies, NHS / NI numbers); one bad line and
nothing is sent. Then the submissions go out with a progress bar, and with ``--wait`` (the default) each
receipt is printed as it is matched. Exit status: 0 all accepted (or sent, with ``--no-wait``); 1 the file is
invalid (nothing sent), Kafka could not be reached, or a submission was rejected; 2 some receipts did not
arrive within ``--timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from joinedup.contract.errors import ContractError
from joinedup.contract.jsonl import InvalidSubmission, Problem, parse_lines
from joinedup.contract.keys import IntakeRecord
from joinedup.contract.models.receipts import SubmissionAccepted
from joinedup.contract.sdk import (
    AgencyPublisher,
    PublishedSubmission,
    Receipt,
    ReceiptKey,
    SubmissionBuilder,
)
from joinedup.contract.settings import DEFAULT_BOOTSTRAP
from joinedup.contract.topics import intake_topic, receipts_topic

EXIT_INVALID = 1
EXIT_REJECTED = 1
EXIT_NO_RECEIPT = 2


def publish_command(
    file: Annotated[
        typer.FileText,
        typer.Argument(help="JSON-lines file, one submission per line ('-' reads standard input)."),
    ],
    agency: Annotated[str, typer.Option("--agency", help="Your agency id (vocabularies/agencies.yaml).")],
    bootstrap: Annotated[
        str, typer.Option("--bootstrap", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka host:port list.")
    ] = DEFAULT_BOOTSTRAP,
    topic_prefix: Annotated[
        str,
        typer.Option(
            "--topic-prefix", envvar="JOINEDUP_TOPIC_PREFIX", help="Prefix of every topic name (test setups)."
        ),
    ] = "",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for and print each receipt.")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the receipts.")] = 30.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file; send nothing.")] = False,
) -> None:
    """Publish JSON-lines submissions on your intake topic and print each receipt."""
    console = Console(highlight=False)
    try:
        builder = SubmissionBuilder(agency)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--agency") from None
    parsed = parse_lines(file)
    problems = list(parsed.problems)
    records: list[IntakeRecord] = []
    try:
        records = builder.build_all(parsed.drafts)
    except InvalidSubmission as exc:
        problems.extend(exc.problems)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        _report_problems(console, problems, file.name)
        raise typer.Exit(EXIT_INVALID)
    if not records:
        console.print("nothing to publish: the input has no submissions")
        return
    if dry_run:
        console.print(f"[green]{len(records)} submission(s) valid[/green]; nothing sent (--dry-run)")
        return
    lines = [d.line for d in parsed.drafts]
    names = {n: topic_prefix + n for n in (intake_topic(agency), receipts_topic(agency))}
    try:
        with AgencyPublisher(agency, bootstrap, names, watch_receipts=wait) as publisher:
            published = _send(console, publisher, records)
            if not wait:
                console.print(
                    f"[green]{len(published)} submission(s) published[/green] on {publisher.intake_topic}"
                )
                return
            with console.status(f"waiting up to {timeout:g} s for receipts on {publisher.receipts_topic}"):
                receipts = publisher.wait_for_receipts([p.event_id for p in published], timeout)
    except (KafkaError, ContractError) as exc:
        problem = escape(str(exc) or type(exc).__name__)
        console.print(f"[red]error[/red] Kafka at {escape(bootstrap)}: {problem}")
        raise typer.Exit(EXIT_INVALID) from None
    raise typer.Exit(_report_receipts(console, published, lines, receipts))


def _send(
    console: Console, publisher: AgencyPublisher, records: list[IntakeRecord]
) -> list[PublishedSubmission]:
    columns = (TextColumn("publishing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("publish", total=len(records))
        return publisher.send(records, on_sent=lambda n: progress.advance(task, n))


def _report_problems(console: Console, problems: list[Problem], source: str) -> None:
    for problem in problems:
        console.print(f"[red]error[/red] {escape(source)}: {escape(str(problem))}", soft_wrap=True)
    lines = {p.line for p in problems}
    console.print(f"[red]{len(lines)} invalid line(s)[/red]: nothing was sent")


def _report_receipts(
    console: Console,
    published: list[PublishedSubmission],
    lines: list[int | None],
    receipts: Mapping[ReceiptKey, Receipt],
) -> int:
    accepted = rejected = missing = 0
    for sent, line in zip(published, lines, strict=True):
        where = f"line {line}: {sent.record.short_name()} {escape(sent.ref)}"
        receipt = receipts.get(sent.event_id)
        if receipt is None:
            missing += 1
            console.print(f"[yellow]no receipt[/yellow] {where} (event {sent.event_id})", soft_wrap=True)
        elif isinstance(receipt, SubmissionAccepted):
            accepted += 1
            events = ", ".join(str(e) for e in receipt.event_ids) or "none (duplicate)"
            console.print(f"[green]accepted[/green] {where} events: {events}", soft_wrap=True)
        else:
            rejected += 1
            field = f" field {escape(receipt.field)}" if receipt.field else ""
            reason = f"{escape(receipt.reason_code)}{field}: {escape(receipt.message)}"
            console.print(f"[red]rejected[/red] {where}: {reason}", soft_wrap=True)
    console.print(
        f"{len(published)} published, {accepted} accepted, {rejected} rejected, {missing} without receipt"
    )
    if rejected:
        return EXIT_REJECTED
    if missing:
        return EXIT_NO_RECEIPT
    return 0
