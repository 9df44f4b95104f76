"""`joinedup up` / `joinedup down`: every service on this machine under one supervisor.

``up`` starts the broker (unless KAFKA_BOOTSTRAP_SERVERS names one), applies the topic catalog, then runs each
service as its own process (``joinedup run <verb>``, exactly what the containers run), with its output in
``.joinedup/logs/<verb>.log`` and its pid in ``.joinedup/run/<verb>.pid``. In the foreground it watches them
until Ctrl-C, then stops them all (and the broker, if it started it). ``down`` stops what the pid files name,
from another shell or after ``up --detach``.

A service that dies while ``up`` watches is started again (every worker is safe to kill -9 and resume: its
store holds its state and offsets), at most ``RestartBudget.limit`` times in ``RestartBudget.window_s``
seconds; past that it stays down and ``up`` says so, rather than restarting a service that cannot start.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from joinedup.local.layout import state_dir
from joinedup.local.manifests import PROCESSES
from joinedup.local.processes import cmdline, pid_alive, terminate

BROKER_MARKER = "broker.started-by-up"


@dataclass(frozen=True)
class ServiceProcess:
    verb: str
    pid: int
    log: Path


def run_dir() -> Path:
    return state_dir() / "run"


def logs_dir() -> Path:
    return state_dir() / "logs"


def joinedup_executable() -> str:
    """The `joinedup` script of this interpreter's environment (what the containers run as ENTRYPOINT)."""
    script = Path(sys.executable).with_name("joinedup")
    return str(script) if script.exists() else "joinedup"


def _pid_file(verb: str) -> Path:
    return run_dir() / f"{verb}.pid"


def _running_pid(verb: str) -> int | None:
    try:
        pid = int(_pid_file(verb).read_text().strip())
    except (OSError, ValueError):
        return None
    if not pid_alive(pid):
        return None
    cmd = cmdline(pid)
    return pid if "run" in cmd and verb in cmd else None


def start_services(
    verbs: Iterable[str],
    env: Mapping[str, str],
    log: Callable[[str], None] = lambda _m: None,
) -> list[ServiceProcess]:
    run_dir().mkdir(parents=True, exist_ok=True)
    logs_dir().mkdir(parents=True, exist_ok=True)
    started: list[ServiceProcess] = []
    for verb in verbs:
        existing = _running_pid(verb)
        log_path = logs_dir() / f"{verb}.log"
        if existing is not None:
            log(f"{verb}: already running (pid {existing})")
            started.append(ServiceProcess(verb, existing, log_path))
            continue
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [joinedup_executable(), "run", verb],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **env},
                start_new_session=True,
            )
        _pid_file(verb).write_text(f"{proc.pid}\n")
        log(f"{verb}: started (pid {proc.pid}), log {log_path}")
        started.append(ServiceProcess(verb, proc.pid, log_path))
    return started


def stop_services(
    verbs: Iterable[str], grace_s: float = 15.0, log: Callable[[str], None] = lambda _m: None
) -> int:
    """SIGTERM each running service, SIGKILL what is still there after the grace period. Returns how many."""
    stopped = 0
    for verb in verbs:
        pid = _running_pid(verb)
        _pid_file(verb).unlink(missing_ok=True)
        if pid is None:
            continue
        terminate(pid, grace_s)
        stopped += 1
        log(f"{verb}: stopped")
    return stopped


def available_verbs(registered: Iterable[str]) -> list[str]:
    """The service verbs of the deployment that this installation can run, in deployment order."""
    have = set(registered)
    return [p.verb for p in PROCESSES if p.verb in have]


def all_verbs() -> list[str]:
    return [p.verb for p in PROCESSES]


def dead_services(processes: Iterable[ServiceProcess]) -> list[ServiceProcess]:
    dead = []
    for process in processes:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, os.WNOHANG)  # reap our own child, or it lingers as a zombie
        if not pid_alive(process.pid):
            dead.append(process)
    return dead


@dataclass
class RestartBudget:
    """How often a service that died is started again: at most ``limit`` restarts in any ``window_s``."""

    limit: int = 5
    window_s: float = 120.0
    _restarts: dict[str, list[float]] = field(default_factory=dict)

    def allow(self, verb: str, now: float) -> bool:
        """Spend one restart of ``verb`` at monotonic time ``now``; False once the budget is spent."""
        recent = [t for t in self._restarts.get(verb, []) if now - t < self.window_s]
        allowed = len(recent) < self.limit
        if allowed:
            recent.append(now)
        self._restarts[verb] = recent
        return allowed


def restart_dead(
    processes: list[ServiceProcess],
    env: Mapping[str, str],
    budget: RestartBudget,
    now: float,
    log: Callable[[str], None] = lambda _m: None,
) -> list[str]:
    """One watch step: start again each watched service that died, within the budget.

    ``processes`` is updated in place; returns the verbs given up on (they are no longer watched).
    """
    given_up: list[str] = []
    for dead in dead_services(processes):
        processes.remove(dead)
        log(f"{dead.verb} exited; last lines of {dead.log}:\n{log_tail(dead.log)}")
        if budget.allow(dead.verb, now):
            processes.extend(start_services([dead.verb], env, log=log))
        else:
            log(f"{dead.verb}: died {budget.limit} times within {budget.window_s:.0f} s; not restarting it")
            given_up.append(dead.verb)
    return given_up


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def mark_broker_started() -> None:
    run_dir().mkdir(parents=True, exist_ok=True)
    (run_dir() / BROKER_MARKER).write_text(f"{time.time():.0f}\n")


def broker_started_by_up() -> bool:
    return (run_dir() / BROKER_MARKER).exists()


def clear_broker_mark() -> None:
    (run_dir() / BROKER_MARKER).unlink(missing_ok=True)
