"""`joinedup simulate`: publish the synthetic city through the real intake topics.

It builds the city from the seed, writes the generator's truth to ``.joinedup/demo/truth.csv``, registers the
sharing agreements with the consent service when a URL and a DPO (or admin) token are configured, publishes
every agency's submissions with a progress bar, prints what it published per agency and kind, and with
``--wait`` collects the receipts and prints accepted / rejected by reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from joinedup.contract.errors import ContractError
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import catalog
from joinedup.local.commands import local_consent_url
from joinedup.local.simulate import (
    ReceiptTally,
    SimulationResult,
    publish_city,
    register_agreements,
    truth_path,
    write_truth,
)
from joinedup.local.synthetic.city import DEFAULT_PERSONS, DEFAULT_SEED, City, build_city

console = Console()


def topic_names_for(prefix: str) -> dict[str, str] | None:
    """Catalog name -> real name under ``prefix`` (None without a prefix: the catalog's names)."""
    if not prefix:
        return None
    return {name: prefix + name for name in catalog().names()}


def counts_table(city: City, result: SimulationResult) -> Table:
    counts = result.counts()
    kinds = sorted({kind for _, kind in counts})
    table = Table(title=f"published (seed {city.seed})")
    table.add_column("agency")
    for kind in kinds:
        table.add_column(kind.removeprefix("Referral").removesuffix("Record") or kind, justify="right")
    table.add_column("total", justify="right")
    for agency in sorted(result.published):
        row = [counts[(agency, kind)] for kind in kinds]
        table.add_row(agency, *map(str, row), str(sum(row)))
    totals = [sum(counts[(a, kind)] for a in result.published) for kind in kinds]
    table.add_row("[bold]all[/]", *map(str, totals), f"[bold]{sum(totals)}[/]")
    return table


def receipts_table(tally: ReceiptTally, expected_rejections: Counter[str]) -> Table:
    table = Table(title="receipts")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("planted by the city", justify="right")
    table.add_row("accepted", str(tally.accepted), "")
    for reason in sorted(set(tally.rejected) | set(expected_rejections)):
        table.add_row(f"rejected: {reason}", str(tally.rejected[reason]), str(expected_rejections[reason]))
    table.add_row("no receipt (yet)", str(tally.missing), "")
    return table


def simulate(
    seed: Annotated[int, typer.Option(help="The city's seed: the same seed publishes the same city.")] = (
        DEFAULT_SEED
    ),
    persons: Annotated[int, typer.Option(min=10, help="How many people live in the city.")] = DEFAULT_PERSONS,
    bootstrap: Annotated[
        str | None, typer.Option(help="host:port (default: KAFKA_BOOTSTRAP_SERVERS)")
    ] = None,
    topic_prefix: Annotated[
        str, typer.Option(help="Prefix of every topic name (isolated test topics).")
    ] = "",
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the receipts and tally them.")
    ] = True,
    receipt_timeout: Annotated[float, typer.Option(help="Seconds to wait for receipts, per phase.")] = 60.0,
    consent_url: Annotated[
        str | None,
        typer.Option(
            envvar="JOINEDUP_CONSENT_API_URL",
            help=(
                "The consent API, to register sharing agreements "
                "(default: http://127.0.0.1:$JOINEDUP_CONSENT_API_PORT, port 8081 if unset)."
            ),
        ),
    ] = None,
    consent_token: Annotated[
        str | None,
        typer.Option(
            envvar="JOINEDUP_CONSENT_TOKEN",
            help="A DPO or admin bearer token for the consent API.",
            show_default=False,
        ),
    ] = None,
    truth_file: Annotated[
        Path | None, typer.Option(help="Where to write the truth CSV (default: .joinedup/demo/truth.csv).")
    ] = None,
) -> City:
    """Publish a synthetic city through the real intake topics, with the agency SDK."""
    servers = bootstrap or KafkaSettings().bootstrap_servers
    city = build_city(seed, persons)
    written = write_truth(city, truth_file or truth_path())
    console.print(
        f"city of {persons} people (seed {seed}): {len(city.submissions)} submissions from "
        f"{len(city.agencies)} agencies; the complex family has {len(city.family.person_ids)} members; "
        f"truth in {written}"
    )
    if consent_token:
        for outcome in register_agreements(city, consent_url or local_consent_url(), consent_token):
            console.print(f"sharing agreement {outcome.agreement_id}: {outcome.status}")
    else:
        console.print(
            f"[yellow]skipped[/] {len(city.agreements)} sharing agreements: set JOINEDUP_CONSENT_TOKEN "
            f"(a DPO or admin token; JOINEDUP_CONSENT_API_URL defaults to {local_consent_url()}) "
            "to register them"
        )
    totals = Counter(s.agency for s in city.submissions)
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        overall = progress.add_task("[bold]all agencies", total=len(city.submissions))
        tasks = {agency: progress.add_task(agency, total=totals[agency]) for agency in city.agencies}

        def sent(agency: str, n: int) -> None:
            progress.advance(tasks[agency], n)
            progress.advance(overall, n)

        try:
            result = publish_city(
                city,
                servers,
                topic_names=topic_names_for(topic_prefix),
                wait=wait,
                receipt_timeout_s=receipt_timeout,
                on_sent=sent,
                on_phase=lambda phase: progress.console.print(f"publishing: {phase}"),
            )
        except (ContractError, KafkaError) as exc:
            console.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False)
            raise typer.Exit(1) from None
    console.print(counts_table(city, result))
    if wait:
        expected = Counter(s.expected_rejection for s in city.submissions if s.expected_rejection)
        console.print(receipts_table(result.tally(), expected))
    return city
