"""`joinedup schemas list | show | freeze` (check is covered in tests/contract/test_compatibility.py)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from joinedup.contract.cli import register
from joinedup.contract.schemas import ContractRegistry


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_register_adds_a_schemas_group_with_its_commands() -> None:
    result = CliRunner().invoke(cli(), ["schemas", "--help"])
    assert result.exit_code == 0
    for command in ("check", "list", "show", "freeze"):
        assert command in result.output


def test_list_shows_every_record_with_its_fingerprint_and_topic(contract: ContractRegistry) -> None:
    result = CliRunner().invoke(cli(), ["schemas", "list"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    submission = contract["joinedup.intake.ReferralSubmission"]
    line = next(x for x in result.output.splitlines() if "joinedup.intake.ReferralSubmission" in x)
    assert submission.current.fingerprint_hex in line
    assert "joinedup.intake.{agency}" in line


def test_show_prints_the_self_contained_schema(contract: ContractRegistry) -> None:
    result = CliRunner().invoke(cli(), ["schemas", "show", "joinedup.intake.ContactRecord"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == contract["joinedup.intake.ContactRecord"].current.schema


def test_show_prints_a_kept_version_on_request(contract: ContractRegistry) -> None:
    result = CliRunner().invoke(cli(), ["schemas", "show", "joinedup.intake.ContactRecord", "--version", "1"])
    assert json.loads(result.output) == contract["joinedup.intake.ContactRecord"].versions[0].schema


def test_show_refuses_an_unknown_record() -> None:
    result = CliRunner().invoke(cli(), ["schemas", "show", "joinedup.intake.Nothing"])
    assert result.exit_code != 0
    assert "unknown record" in result.output
