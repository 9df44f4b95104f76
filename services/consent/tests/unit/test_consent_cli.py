"""The ``joinedup consent`` verbs against the API in-process (the HTTP client is swapped for a TestClient)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest
import typer
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from joinedup.consent.adapters.store_memory import InMemoryConsentStore
from joinedup.consent.app.handlers import ConsentService, ConsumedEvent, Position
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.ports import Issued
from joinedup.consent.app.testing import agreement, day, statement
from joinedup.consent.domain import AgreementEvent, ConsentEvent, SharingAgreementRegistered
from joinedup.consent.entrypoints import cli
from joinedup.consent.entrypoints.api import create_app
from joinedup.consent.entrypoints.tokens import Principal, TokenBook

runner = CliRunner()


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[AgreementEvent] = []

    def publish(self, events: Sequence[AgreementEvent], issued: Issued) -> None:
        del issued
        self.events.extend(events)


@pytest.fixture
def publisher(monkeypatch: pytest.MonkeyPatch) -> RecordingPublisher:
    """Points the CLI at an in-process API holding a consent, its withdrawal and an agreement."""
    service = ConsentService(InMemoryConsentStore(), known_codes())
    events: list[ConsentEvent] = [
        statement("given", evidence_ref="form-1"),
        statement("withdrawn", version=2, effective_at=day("2026-02-01")),
        agreement(owners=("council-asc",), recipients=("police",)),
    ]
    service.apply([ConsumedEvent(e, Position("t", 0, i)) for i, e in enumerate(events)])
    recording = RecordingPublisher()
    app = create_app(
        service,
        known_codes(),
        TokenBook({"dpo-token": Principal(agency="council-asc", user="dpo-council", role="dpo")}),
        recording,
        clock=lambda: datetime(2026, 3, 1, tzinfo=UTC),
    )

    def client(url: str, token: str | None) -> httpx.Client:
        del url
        return TestClient(app, headers={"Authorization": f"Bearer {token}"} if token else {})

    monkeypatch.setattr(cli, "client", client)
    monkeypatch.setattr(cli, "console", Console(width=250))
    monkeypatch.setenv("JOINEDUP_CONSENT_TOKEN", "dpo-token")
    return recording


def _app() -> typer.Typer:
    app = typer.Typer()
    cli.register(app)
    return app


def test_the_trail_verb_prints_every_step_in_order(publisher: RecordingPublisher) -> None:
    result = runner.invoke(_app(), ["consent", "trail", "--record", "council-asc/ASC-0001"])

    assert result.exit_code == 0, result.output
    assert result.output.index("given") < result.output.index("withdrawn")
    assert "agreement-registered" in result.output
    assert "form-1" in result.output


def test_the_trail_verb_at_an_instant_prints_what_applied_then(publisher: RecordingPublisher) -> None:
    result = runner.invoke(
        _app(), ["consent", "trail", "--record", "council-asc/ASC-0001", "--at", "2026-01-15"]
    )

    assert result.exit_code == 0, result.output
    assert "given" in result.output
    assert "withdrawn" not in result.output


def test_agreement_add_registers_through_the_api(publisher: RecordingPublisher) -> None:
    result = runner.invoke(
        _app(),
        [
            "consent", "agreement", "add",
            "--id", "isa-asc-housing",
            "--owner", "council-asc",
            "--recipient", "council-housing",
            "--purpose", "housing-support", "--purpose", "safeguarding",
            "--category", "social-care",
            "--basis", "public-task",
            "--legal-reference", "Care Act 2014 s.6",
            "--from", "2026-04-01",
            "--override-purpose", "safeguarding",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "registered" in result.output
    (event,) = publisher.events
    assert isinstance(event, SharingAgreementRegistered)
    assert (event.agreement_id, event.registered_by, event.valid_from) == (
        "isa-asc-housing",
        "dpo-council",
        day("2026-04-01"),
    )
    assert event.override_purposes == ("safeguarding",)


def test_agreement_end_ends_through_the_api(publisher: RecordingPublisher) -> None:
    result = runner.invoke(
        _app(),
        [
            "consent",
            "agreement",
            "end",
            "--id",
            "isa-mh-asc",
            "--at",
            "2026-05-01T12:00:00+01:00",
            "--reason",
            "x",
        ],
    )

    assert result.exit_code == 0, result.output
    (event,) = publisher.events
    assert (event.version, event.ended_at) == (2, datetime(2026, 5, 1, 11, tzinfo=UTC))  # type: ignore[union-attr]


def test_a_refused_command_prints_the_reason_and_fails(publisher: RecordingPublisher) -> None:
    result = runner.invoke(
        _app(),
        [
            "consent", "agreement", "add", "--id", "isa-x", "--owner", "council-asc", "--recipient", "police",
            "--purpose", "care-coordination", "--category", "health", "--basis", "consent",
            "--legal-reference", "none", "--from", "2026-04-01",
        ],
    )  # fmt: skip

    assert result.exit_code == 1
    assert "lawful-basis-not-allowed" in result.output
    assert publisher.events == []


def test_a_bad_date_is_refused_before_calling_anything(publisher: RecordingPublisher) -> None:
    result = runner.invoke(
        _app(), ["consent", "trail", "--record", "council-asc/ASC-0001", "--at", "first of march"]
    )

    assert result.exit_code == 2
    assert "ISO date" in result.output


def test_an_unreachable_service_is_reported_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINEDUP_CONSENT_API_URL", "http://127.0.0.1:9")

    result = runner.invoke(_app(), ["consent", "trail", "--record", "council-asc/ASC-0001"])

    assert result.exit_code == 2
    assert "not reachable at http://127.0.0.1:9" in result.output


def test_run_consent_joins_a_run_group_another_package_registered() -> None:
    app = typer.Typer()
    run_app = typer.Typer()
    run_app.command("referral")(lambda: None)
    app.add_typer(run_app, name="run")

    cli.register(app)

    assert [g.name for g in app.registered_groups].count("run") == 1
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in run_app.registered_commands]
    assert names == ["referral", "consent"]


def test_run_consent_creates_the_run_group_when_it_is_first() -> None:
    app = _app()

    run_groups = [g for g in app.registered_groups if g.name == "run"]

    assert len(run_groups) == 1
    assert run_groups[0].typer_instance is not None
    assert [c.name for c in run_groups[0].typer_instance.registered_commands] == ["consent"]
