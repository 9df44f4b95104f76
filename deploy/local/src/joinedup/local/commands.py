"""`joinedup broker ...` and `joinedup topics ...`: the local broker and the topic catalog."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from joinedup.contract.kafka import admin_client, apply_topics
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import catalog
from joinedup.local.broker import DEFAULT_PORT, DEFAULT_START_TIMEOUT_S, BrokerError, JarCache, LocalBroker
from joinedup.local.layout import broker_data_dir, jar_cache_dir, kafka_deploy_dir, state_dir

console = Console(stderr=True)
out = Console()

broker_app = typer.Typer(
    help="Run a local Apache Kafka broker (KRaft) from Maven Central jars.", no_args_is_help=True
)
topics_app = typer.Typer(help="Create or check the topics the catalog declares.", no_args_is_help=True)

PortOption = Annotated[int, typer.Option("--port", help="Broker port on 127.0.0.1 (controller: port + 1).")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Broker data folder (default: .joinedup/broker).")
]


def jar_cache() -> JarCache:
    return JarCache(jar_cache_dir(), kafka_deploy_dir() / "pom.xml")


def local_broker(port: int = DEFAULT_PORT, data_dir: Path | None = None) -> LocalBroker:
    return LocalBroker(data_dir or broker_data_dir(), jar_cache(), port=port)


def _fail(exc: BrokerError) -> typer.Exit:
    console.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code=1)


@broker_app.command("fetch")
def broker_fetch() -> None:
    """Download the Kafka jars into the cache (nothing to do when they are cached)."""
    cache = jar_cache()
    started = time.monotonic()
    try:
        downloaded = cache.ensure(log=lambda m: console.print(m))
    except BrokerError as exc:
        raise _fail(exc) from exc
    verb = "fetched" if downloaded else "cached"
    console.print(f"Kafka jars {verb} in {cache.lib} ({time.monotonic() - started:.1f} s)")


@broker_app.command("start")
def broker_start(
    port: PortOption = DEFAULT_PORT,
    data_dir: DataDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker to answer.")] = (
        DEFAULT_START_TIMEOUT_S
    ),
) -> None:
    """Start the broker (format storage on first use) and wait until it answers."""
    broker = local_broker(port, data_dir)
    started = time.monotonic()
    try:
        pid = broker.start(timeout_s=timeout, log=lambda m: console.print(m))
    except BrokerError as exc:
        raise _fail(exc) from exc
    console.print(
        f"[green]broker up[/] at {broker.bootstrap} (pid {pid}) in {time.monotonic() - started:.1f} s; "
        f"data and logs in {broker.data_dir}"
    )


@broker_app.command("stop")
def broker_stop(port: PortOption = DEFAULT_PORT, data_dir: DataDirOption = None) -> None:
    """Stop the broker this folder's pid file names (and nothing else)."""
    broker = local_broker(port, data_dir)
    if broker.stop():
        console.print(f"broker at {broker.bootstrap} stopped")
    else:
        console.print("no broker was running")


@broker_app.command("status")
def broker_status(port: PortOption = DEFAULT_PORT, data_dir: DataDirOption = None) -> None:
    """Say whether the broker is up and where. Exit 0 when it answers, 3 when it does not."""
    status = local_broker(port, data_dir).status()
    out.print(f"broker {status.describe()}", highlight=False)
    if not status.answering:
        raise typer.Exit(code=3)


@topics_app.command("apply")
def topics_apply(
    bootstrap: Annotated[
        str | None, typer.Option(help="host:port (default: KAFKA_BOOTSTRAP_SERVERS)")
    ] = None,
    replication_factor: Annotated[int, typer.Option(help="Replication factor for new topics.")] = 1,
) -> None:
    """Create the catalog's missing topics and check the rest; exit 1 when a topic drifted."""
    servers = bootstrap or KafkaSettings().bootstrap_servers
    admin = admin_client(servers)
    try:
        report = apply_topics(admin, catalog().topics, replication_factor=replication_factor)
    finally:
        admin.close()
    table = Table(title=f"topics on {servers}")
    table.add_column("topic")
    table.add_column("state")
    for name in report.created:
        table.add_row(name, "[green]created[/]")
    for name in report.unchanged:
        table.add_row(name, "ok")
    for name, changes in report.altered.items():
        table.add_row(name, "[yellow]altered: " + "; ".join(changes) + "[/]")
    for name, problems in report.drift.items():
        table.add_row(name, "[red]drift: " + "; ".join(problems) + "[/]")
    out.print(table)
    if not report.ok:
        raise typer.Exit(code=1)


@topics_app.command("list")
def topics_list() -> None:
    """Print the catalog: every topic, its partitions, retention and records."""
    table = Table(title="topic catalog (schemas/topics.yaml)")
    for column in ("topic", "partitions", "retention", "owner", "values"):
        table.add_column(column)
    for spec in catalog().topics:
        values = ", ".join(v.rsplit(".", 1)[-1] for v in spec.values)
        table.add_row(spec.name, str(spec.partitions), spec.retention, spec.owner, values)
    out.print(table)


def demo(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run, check, stop; exit 0 only if all went as expected.")
    ] = (False),
    seed: Annotated[int, typer.Option(help="The synthetic city's seed.")] = 7,
    persons: Annotated[int, typer.Option(min=10, help="How many people live in the city.")] = 200,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the pipeline to catch up.")] = 240.0,
) -> None:
    """Run the whole system locally on a synthetic city and show what it does."""
    from joinedup.local import supervisor
    from joinedup.local.demo import DemoFailed, run_demo

    started = time.monotonic()
    try:
        run_demo(once, supervisor.available_verbs(_registered_run_verbs(ctx)), seed, persons, timeout)
    except DemoFailed as exc:
        console.print(f"[bold red]demo failed:[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from exc
    console.print(f"demo finished in {time.monotonic() - started:.0f} s")


def _registered_run_verbs(ctx: typer.Context) -> list[str]:
    """The `joinedup run <verb>` commands the installed packages registered."""
    root_commands = getattr(ctx.find_root().command, "commands", {})
    return sorted(getattr(root_commands.get("run"), "commands", {}))


def local_consent_url() -> str:
    """The locally supervised consent API (its port: JOINEDUP_CONSENT_API_PORT, default 8081)."""
    return f"http://127.0.0.1:{os.environ.get('JOINEDUP_CONSENT_API_PORT', '8081')}"


def local_api_url() -> str:
    """The locally supervised query API (its port: JOINEDUP_API_PORT, default 8080)."""
    return f"http://127.0.0.1:{os.environ.get('JOINEDUP_API_PORT', '8080')}"


DEMO_AGENCIES = ("council-asc", "council-housing", "jobcentre", "nhs-mh-trust", "police", "probation")
"""The agencies that get a demo caseworker token for the query API."""


def demo_tokens(directory: Path) -> tuple[Path, Path, str]:
    """Bearer tokens for a local run, written once (mode 0600) under ``directory`` and kept afterwards:
    ``consent.yaml`` (an admin token the query API uses for decisions and consent trails) and ``api.yaml``
    (a caseworker per demo agency, a DPO and an admin). Returns both paths and the API's consent token."""
    import secrets

    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    consent_file, api_file = directory / "consent.yaml", directory / "api.yaml"
    if not consent_file.exists():
        consent = {secrets.token_urlsafe(24): {"agency": "council-asc", "user": "query-api", "role": "admin"}}
        consent_file.write_text(yaml.safe_dump({"tokens": consent}))
        consent_file.chmod(0o600)
    if not api_file.exists():
        tokens = {
            secrets.token_urlsafe(24): {
                "agency": agency,
                "user": f"caseworker-{agency}",
                "role": "caseworker",
            }
            for agency in DEMO_AGENCIES
        }
        tokens[secrets.token_urlsafe(24)] = {"agency": "council-asc", "user": "dpo-1", "role": "dpo"}
        tokens[secrets.token_urlsafe(24)] = {"agency": "council-asc", "user": "admin-1", "role": "admin"}
        api_file.write_text(yaml.safe_dump({"tokens": tokens}))
        api_file.chmod(0o600)
    written = yaml.safe_load(consent_file.read_text()) or {}
    admin = next(t for t, p in sorted(written.get("tokens", {}).items()) if p.get("role") == "admin")
    return consent_file, api_file, str(admin)


def service_env(bootstrap: str) -> dict[str, str]:
    """What every locally supervised service gets: the broker, a data folder under .joinedup/, and the demo
    tokens (.joinedup/tokens/) the consent service and the query API authenticate with."""
    from joinedup.local import supervisor

    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    for verb in supervisor.all_verbs():
        env[f"JOINEDUP_{verb.upper()}_DATA_DIR"] = str(state_dir() / "data")
    consent_tokens, api_tokens, consent_token = demo_tokens(state_dir() / "tokens")
    demo = {
        "JOINEDUP_CONSENT_TOKENS_FILE": str(consent_tokens),
        "JOINEDUP_API_TOKENS_FILE": str(api_tokens),
        "JOINEDUP_API_CONSENT_URL": local_consent_url(),
        "JOINEDUP_API_CONSENT_TOKEN": consent_token,
    }
    for name, value in demo.items():
        env[name] = os.environ.get(name, value)  # what the user set wins
    return env


def up(
    ctx: typer.Context,
    detach: Annotated[
        bool, typer.Option("--detach", help="Start everything and return (stop with `down`).")
    ] = False,
) -> None:
    """Run every service locally: broker (unless KAFKA_BOOTSTRAP_SERVERS is set), topics, services."""
    from joinedup.local import supervisor

    verbs = supervisor.available_verbs(_registered_run_verbs(ctx))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        broker = local_broker()
        was_running = broker.pid() is not None
        try:
            broker.start(log=lambda m: console.print(m))
        except BrokerError as exc:
            raise _fail(exc) from exc
        if not was_running:
            supervisor.mark_broker_started()
        bootstrap = broker.bootstrap
    topics_apply(bootstrap=bootstrap)
    env = service_env(bootstrap)
    processes = supervisor.start_services(verbs, env, log=lambda m: console.print(m))
    console.print(f"logs: {supervisor.logs_dir()}")
    if detach:
        console.print("running in the background; `joinedup down` stops everything")
        return
    console.print("[bold]running[/] — Ctrl-C stops every service (and the broker, if `up` started it)")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill <pid>` stops as cleanly as Ctrl-C
    budget = supervisor.RestartBudget()
    try:
        while True:
            time.sleep(1.0)
            supervisor.restart_dead(processes, env, budget, time.monotonic(), log=lambda m: console.print(m))
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        down()


def down() -> None:
    """Stop what `up` started: every service, and the broker if `up` started it."""
    from joinedup.local import supervisor

    stopped = supervisor.stop_services(supervisor.all_verbs(), log=lambda m: console.print(m))
    if supervisor.broker_started_by_up():
        if local_broker().stop():
            console.print("broker stopped")
        supervisor.clear_broker_mark()
    console.print(f"{stopped} service(s) stopped")
