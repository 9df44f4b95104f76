"""`make bench`: run every benchmark script in bench/ and append its figures to docs/benchmarks.md.

Each script prints its own markdown-friendly report. This runner adds the date, the machine and the exact
command that reproduced the figures. Run one benchmark alone with `.venv/bin/python bench/<name>.py`.
Benchmarks are not tests: they assert nothing and do not run in `make test`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPORT = BENCH_DIR.parent / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def scripts(selected: list[str]) -> list[Path]:
    found = sorted(p for p in BENCH_DIR.glob("*.py") if not p.name.startswith("_"))
    if selected:
        found = [p for p in found if p.stem in selected]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description="Run benchmarks; append figures to docs/benchmarks.md")
    parser.add_argument("names", nargs="*", help="benchmark names (file stems); default: all")
    args = parser.parse_args()
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return run_all(args.names, os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    # One throwaway broker for every benchmark that needs Kafka (the same jar broker the tests use).
    from joinedup.local.test_broker import session_broker

    with tempfile.TemporaryDirectory() as root, session_broker(Path(root)) as broker:
        return run_all(args.names, broker.bootstrap)


def run_all(names: list[str], bootstrap: str) -> int:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    failures = 0
    for script in scripts(names):
        command = f".venv/bin/python bench/{script.name}"
        print(f"== {command}", flush=True)
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False, env=env
        )
        print(proc.stdout, end="")
        if proc.returncode != 0:
            failures += 1
            print(proc.stderr, file=sys.stderr)
            continue
        with REPORT.open("a") as report:
            report.write(
                f"\n### {script.stem} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                f"Machine: {machine()}. Command: `{command}` (or `make bench BENCH_ARGS={script.stem}`).\n\n"
                f"```\n{proc.stdout.strip()}\n```\n"
            )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
