"""`joinedup demo --once` against the session broker."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from joinedup.local.cli import app

pytestmark = pytest.mark.broker


def test_demo_once_round_trips_one_avro_referral_through_a_real_topic(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["demo", "--once"])
    assert result.exit_code == 0, result.output
    assert "ReferralSubmission" in result.output
    assert "joinedup.intake.police" in result.output
    assert re.search(r"decoded back identical\s*│\s*yes", result.output)


def test_broker_status_of_a_stopped_broker_exits_3(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["broker", "status", "--data-dir", str(tmp_path), "--port", "29999"])
    assert result.exit_code == 3
    assert "stopped" in result.output
