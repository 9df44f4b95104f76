"""`joinedup run referral`: the referral service joins the shared `run` group, whoever created it."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from joinedup.referral.entrypoints.cli import register, run_group


def test_register_adds_run_referral_to_a_fresh_app() -> None:
    app = typer.Typer()
    register(app)
    run = run_group(app)
    assert [c.name for c in run.registered_commands] == ["referral"]


def test_register_joins_a_run_group_another_service_made_first() -> None:
    app = typer.Typer()
    run = typer.Typer()
    app.add_typer(run, name="run")

    @run.command("consent")
    def consent() -> None:
        """Another service's worker."""

    register(app)
    assert len(app.registered_groups) == 1
    assert [c.name for c in run.registered_commands] == ["consent", "referral"]
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "referral" in result.output
