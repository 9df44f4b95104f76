"""Which referral worker owned which shard when: read from the workers' logs (the stream runtime logs
``<group>: opened shard <i>`` and ``closed shard <i>`` on every rebalance), and a clean stop of one worker
(SIGTERM: it commits its batch, its relays publish what is left, it leaves the group)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .harness import Workers

_SHARD_LINE = re.compile(r": (opened|closed) shard (\d+)$")


@dataclass(frozen=True)
class ShardEvent:
    worker: str
    """The worker's log file stem (``worker-<name>-<start>``)."""
    action: str
    """``opened`` or ``closed``."""
    shard: int


def shard_events(logs: Path) -> list[ShardEvent]:
    """Every shard opened or closed, per worker log, in each log's order."""
    events: list[ShardEvent] = []
    for log in sorted(logs.glob("worker-*.log")):
        for line in log.read_text(errors="replace").splitlines():
            match = _SHARD_LINE.search(line.rstrip())
            if match:
                events.append(ShardEvent(log.stem, match.group(1), int(match.group(2))))
    return events


def owned_shards(logs: Path, worker: str) -> set[int]:
    """The shards ``worker`` (a log stem) holds open now, by its log."""
    held: set[int] = set()
    for event in shard_events(logs):
        if event.worker != worker:
            continue
        if event.action == "opened":
            held.add(event.shard)
        else:
            held.discard(event.shard)
    return held


def owners_by_shard(logs: Path) -> dict[int, list[str]]:
    """Shard -> the workers (log stems) that opened it, in order of their logs (a worker opens a shard once
    per assignment)."""
    owners: dict[int, list[str]] = {}
    for event in shard_events(logs):
        if event.action == "opened":
            owners.setdefault(event.shard, []).append(event.worker)
    return dict(sorted(owners.items()))


def wait_for_shards(logs: Path, worker: str, timeout_s: float = 90) -> set[int]:
    """Wait until ``worker`` (a log stem) has opened at least one shard; returns what it holds."""
    deadline = time.monotonic() + timeout_s
    while not (held := owned_shards(logs, worker)):
        assert time.monotonic() < deadline, f"{worker} was assigned no shard"
        time.sleep(0.1)
    return held


def stop_one(workers: Workers, name: str, timeout_s: float = 60) -> int:
    """SIGTERM one worker and wait for it; returns its exit status. It leaves ``workers`` (which would
    otherwise revive it as a worker that stopped by itself)."""
    proc: subprocess.Popen[bytes] = workers.procs.pop(name)
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout_s)


def log_stem(name: str, start: int) -> str:
    """The log stem of the ``start``-th start (counted over all workers) of worker ``name``."""
    return f"worker-{name}-{start}"
