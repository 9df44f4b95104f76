"""The consent service's verbs on the ``joinedup`` command (loaded through the ``joinedup.cli`` entry point).

- ``joinedup consent trail --record <agency>/<local id> [--at ISO]``
- ``joinedup consent agreement add ...`` / ``joinedup consent agreement end ...``
- ``joinedup run consent``: the worker and the API in one process.

The DPO verbs call a running consent service over HTTP (``JOINEDUP_CONSENT_API_URL``, default
http://127.0.0.1:8081) with the bearer token in ``JOINEDUP_CONSENT_TOKEN`` (or ``--token``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from joinedup.consent.settings import ConsentSettings
from joinedup.contract.cli import run_group

console = Console()
errors = Console(stderr=True)

UrlOption = Annotated[str | None, typer.Option("--url", help="The consent API (default: settings).")]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", help="Bearer token (default: JOINEDUP_CONSENT_TOKEN).", show_default=False),
]


def parse_instant(value: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC when it names no offset)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _instant(value: str) -> datetime:
    try:
        return parse_instant(value)
    except ValueError:
        raise typer.BadParameter("must be an ISO date or date-time, e.g. 2026-03-01") from None


def client(url: str, token: str | None) -> httpx.Client:
    """The HTTP client the verbs use (tests replace it)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30.0)


def _call(method: str, path: str, url: str | None, token: str | None, **options: Any) -> Any:
    settings = ConsentSettings()
    base = url or settings.api_url
    secret = token or (settings.token.get_secret_value() if settings.token is not None else None)
    try:
        with client(base, secret) as http:
            response = http.request(method, path, **options)
    except httpx.TransportError:
        errors.print(f"[red]the consent service is not reachable at {base}[/red]")
        raise typer.Exit(2) from None
    if response.is_error:
        errors.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)
    return response.json()


def _scope_text(scope: dict[str, list[str]]) -> str:
    parts = [f"{name}={','.join(values)}" for name, values in scope.items() if values]
    return "; ".join(parts) or "everything"


def _entry_details(event: dict[str, Any]) -> str:
    if "scope" in event:
        evidence = f", evidence {event['evidence_ref']}" if event.get("evidence_ref") else ""
        return f"{_scope_text(event['scope'])} (captured by {event['captured_by']}{evidence})"
    if "lawful_basis" in event:
        return (
            f"{','.join(event['owner_agencies'])} -> {','.join(event['recipient_agencies'])}: "
            f"{','.join(event['purposes'])} / {','.join(event['data_categories'])}; "
            f"{event['lawful_basis']} ({event['legal_reference']}), by {event['registered_by']}"
        )
    return f"ended by {event['ended_by']}: {event.get('reason') or ''}"


def _print_trail(body: dict[str, Any]) -> None:
    records = ", ".join(f"{r['agency']}/{r['local_person_id']}" for r in body["subject_records"])
    table = Table(title=f"Consent trail of {records}")
    for column in ("took effect", "what", "ref", "version", "details"):
        table.add_column(column)
    for entry in body["entries"]:
        table.add_row(
            entry["at"], entry["action"], entry["ref"], str(entry["version"]), _entry_details(entry["event"])
        )
    console.print(table)


def _print_in_force(body: dict[str, Any]) -> None:
    statements = Table(title=f"Statements applying at {body['at']}")
    for column in ("kind", "statement", "version", "details"):
        statements.add_column(column)
    for s in body["statements"]:
        statements.add_row(s["kind"], s["statement_id"], str(s["version"]), _entry_details(s))
    agreements = Table(title=f"Agreements in force at {body['at']}")
    for column in ("agreement", "version", "details"):
        agreements.add_column(column)
    for a in body["agreements"]:
        agreements.add_row(a["agreement_id"], str(a["version"]), _entry_details(a))
    console.print(statements)
    console.print(agreements)


def trail(
    record: Annotated[
        list[str],
        typer.Option("--record", help="<agency>/<local person id>; repeat for each of a person's records"),
    ],
    at: Annotated[str | None, typer.Option("--at", help="What applied at this ISO date / date-time")] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Show a person's consent trail, or what applied at an instant."""
    params: dict[str, Any] = {"record": record}
    if at is not None:
        params["at"] = _instant(at).isoformat()
    body = _call("GET", "/v1/subjects/trail", url, token, params=params)
    if at is None:
        _print_trail(body)
    else:
        _print_in_force(body)


def agreement_add(
    agreement_id: Annotated[str, typer.Option("--id", help="The agreement's id, e.g. isa-mh-asc")],
    owner: Annotated[list[str], typer.Option("--owner", help="An agency whose data is shared (repeat)")],
    recipient: Annotated[list[str], typer.Option("--recipient", help="An agency receiving it (repeat)")],
    purpose: Annotated[list[str], typer.Option("--purpose", help="A purpose (repeat)")],
    category: Annotated[list[str], typer.Option("--category", help="A data category (repeat)")],
    basis: Annotated[str, typer.Option("--basis", help="The lawful basis code, e.g. public-task")],
    legal_reference: Annotated[str, typer.Option("--legal-reference", help="The legal reference")],
    valid_from: Annotated[str, typer.Option("--from", help="In force from this ISO date / date-time")],
    valid_until: Annotated[str | None, typer.Option("--until", help="Until (exclusive)")] = None,
    override_purpose: Annotated[
        list[str] | None,
        typer.Option(
            "--override-purpose", help="A safeguarding / vital-interests purpose that beats objections"
        ),
    ] = None,
    version: Annotated[int, typer.Option("--version", help="A higher version amends the agreement")] = 1,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Register (or amend) an information sharing agreement."""
    body = {
        "agreement_id": agreement_id,
        "version": version,
        "owner_agencies": owner,
        "recipient_agencies": recipient,
        "purposes": purpose,
        "data_categories": category,
        "lawful_basis": basis,
        "legal_reference": legal_reference,
        "valid_from": _instant(valid_from).isoformat(),
        "valid_until": _instant(valid_until).isoformat() if valid_until else None,
        "override_purposes": override_purpose or [],
    }
    answer = _call("POST", "/v1/agreements", url, token, json=body)
    _print_accepted(answer, "registered")


def agreement_end(
    agreement_id: Annotated[str, typer.Option("--id", help="The agreement's id")],
    ended_at: Annotated[str, typer.Option("--at", help="Ended from this ISO date / date-time")],
    reason: Annotated[str, typer.Option("--reason", help="Why it ends")],
    version: Annotated[
        int | None, typer.Option("--version", help="Default: the version after the highest known")
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """End an information sharing agreement from an instant."""
    body = {"ended_at": _instant(ended_at).isoformat(), "reason": reason, "version": version}
    answer = _call("POST", f"/v1/agreements/{agreement_id}/end", url, token, json=body)
    _print_accepted(answer, "ended")


def _print_accepted(answer: dict[str, Any], verb: str) -> None:
    if answer["event_ids"]:
        console.print(
            f"[green]{verb}[/green] {answer['agreement_id']} version {answer['version']}: "
            f"event {', '.join(answer['event_ids'])}"
        )
    else:
        console.print(
            f"{answer['agreement_id']} version {answer['version']} was already {verb}: nothing to do"
        )


def run_consent() -> None:
    """Run the consent service: the intake worker, the decision state and the HTTP API, in one process."""
    from joinedup.consent.bootstrap import run

    run(ConsentSettings())


def register(app: typer.Typer) -> None:
    """Add ``consent`` (trail, agreement add / end) and ``run consent`` to the root ``joinedup`` app."""
    consent_app = typer.Typer(
        help="Consent, objections and sharing agreements (for DPOs).", no_args_is_help=True
    )
    agreement_app = typer.Typer(help="Information sharing agreements.", no_args_is_help=True)
    agreement_app.command("add")(agreement_add)
    agreement_app.command("end")(agreement_end)
    consent_app.command("trail")(trail)
    consent_app.add_typer(agreement_app, name="agreement")
    app.add_typer(consent_app, name="consent")
    run_group(app).command("consent")(run_consent)
