"""`joinedup demo --once` against the session broker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from joinedup.local.broker import free_port
from joinedup.local.cli import register_plugins

pytestmark = pytest.mark.broker


@pytest.mark.slow
def test_demo_once_runs_the_whole_pipeline_on_a_small_city_and_shows_a_real_person_view(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("JOINEDUP_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("JOINEDUP_CONSENT_API_PORT", str(free_port()))  # never a developer's running demo
    monkeypatch.setenv("JOINEDUP_API_PORT", str(free_port()))
    result = CliRunner().invoke(register_plugins(), ["demo", "--once", "--persons", "40", "--timeout", "180"])
    assert result.exit_code == 0, result.output
    # the foundation: one Avro referral through a real topic and back
    assert "joinedup.intake.police" in result.output
    assert re.search(r"decoded back identical\s*│\s*yes", result.output)
    # the pipeline: receipts, the planted rejections, persons resolved, repeat assessments
    assert re.search(r"rejected: invalid-nhs-number\s*│\s*1", result.output)
    assert re.search(r"repeat assessments detected\s*│\s*[1-9]", result.output)
    # a real, audited person view from the running API
    assert "curl -s -H 'Authorization: Bearer" in result.output
    assert (tmp_path / "logs" / "api.log").exists()
    assert not list((tmp_path / "run").glob("*.pid")), "every service was stopped"


def test_broker_status_of_a_stopped_broker_exits_3(tmp_path: object) -> None:
    result = CliRunner().invoke(
        register_plugins(), ["broker", "status", "--data-dir", str(tmp_path), "--port", "29999"]
    )
    assert result.exit_code == 3
    assert "stopped" in result.output
