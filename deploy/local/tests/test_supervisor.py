"""`joinedup up` starts a service again when it dies, within a restart budget."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from joinedup.local import supervisor
from joinedup.local.processes import pid_alive, terminate, wait_gone


def test_the_restart_budget_allows_its_limit_within_the_window_and_again_once_the_window_has_passed() -> None:
    budget = supervisor.RestartBudget(limit=2, window_s=60.0)

    assert budget.allow("referral", 0.0)
    assert budget.allow("referral", 10.0)
    assert not budget.allow("referral", 20.0)
    assert budget.allow("consent", 20.0), "each service has its own budget"
    assert budget.allow("referral", 61.0), "the restart at 0 s has left the window"
    assert not budget.allow("referral", 62.0)


@pytest.fixture
def long_running_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Services are a script that runs until killed, with the supervisor's state in ``tmp_path``."""
    script = tmp_path / "fake-joinedup"
    script.write_text("#!/bin/sh\nexec sleep 60\n")
    script.chmod(0o755)
    monkeypatch.setenv("JOINEDUP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(supervisor, "joinedup_executable", lambda: str(script))
    return script


def test_a_service_killed_with_sigkill_is_started_again_and_given_up_on_once_its_budget_is_spent(
    long_running_service: Path,
) -> None:
    processes = supervisor.start_services(["referral"], env={})
    budget = supervisor.RestartBudget(limit=1, window_s=60.0)
    messages: list[str] = []
    pids = [processes[0].pid]
    try:
        os.kill(pids[0], signal.SIGKILL)
        assert wait_gone(pids[0], 10.0)

        given_up = supervisor.restart_dead(processes, {}, budget, now=1.0, log=messages.append)

        assert given_up == []
        assert [p.verb for p in processes] == ["referral"]
        pids.append(processes[0].pid)
        assert pids[1] != pids[0]
        assert pid_alive(pids[1])
        assert any("referral exited" in m for m in messages)

        os.kill(pids[1], signal.SIGKILL)
        assert wait_gone(pids[1], 10.0)

        given_up = supervisor.restart_dead(processes, {}, budget, now=2.0, log=messages.append)

        assert given_up == ["referral"]
        assert processes == []
        assert "not restarting it" in messages[-1]
    finally:
        for pid in pids:
            terminate(pid, 5.0)


def test_a_service_that_is_still_running_is_left_alone(long_running_service: Path) -> None:
    processes = supervisor.start_services(["consent"], env={})
    try:
        given_up = supervisor.restart_dead(processes, {}, supervisor.RestartBudget(), now=0.0)

        assert given_up == []
        assert len(processes) == 1
        assert pid_alive(processes[0].pid)
    finally:
        terminate(processes[0].pid, 5.0)
