"""The reliability scenarios (issue 9): the ``reliability`` marker, and a table of every scenario's report at
the end of the run (also written to ``$JOINEDUP_RELIABILITY_RESULTS`` when that is set)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import pytest

from .harness import REPORT_HEADER, Report

_REPORTS: list[Report] = []


@pytest.fixture
def record_report() -> list[Report]:
    """Append a scenario's report here: it is printed in the run's summary."""
    return _REPORTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _REPORTS:
        return
    terminalreporter.section("reliability scenarios")
    terminalreporter.write_line(REPORT_HEADER)
    for report in _REPORTS:
        terminalreporter.write_line(report.row())
    for report in _REPORTS:
        terminalreporter.write_line(f"{report.scenario}: {json.dumps(report.detail, sort_keys=True)}")
    target = os.environ.get("JOINEDUP_RELIABILITY_RESULTS")
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            for report in _REPORTS:
                out.write(json.dumps(asdict(report), sort_keys=True) + "\n")
