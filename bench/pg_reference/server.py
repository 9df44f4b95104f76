"""A throwaway PostgreSQL server for one benchmark run, from Debian's packages (``apt-get install
postgresql``), with no system service: ``initdb`` into a temporary directory, ``postgres`` on 127.0.0.1 at a
free port with its unix socket in the same directory, stopped by its PID at the end, always.

PostgreSQL refuses to run as root. When the benchmark runs as root, ``initdb`` and the server run as the
unprivileged user ``nobody`` (via ``setpriv``, which execs in place, so the PID we hold is the server's),
and the temporary directory is handed to that user; it is removed afterwards either way.

Durability is PostgreSQL's default (fsync on, synchronous_commit on, full_page_writes on): a commit returns
once its WAL is flushed, as joinedup's audit append returns once acks=all is in.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from figures import process_cpu_seconds

UNPRIVILEGED_USER = "nobody"
INSTALL_HINT = (
    "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin/. "
    "Install them with `apt-get install postgresql` (Debian/Ubuntu); no service needs to run, "
    "the benchmark starts its own server in a temporary directory."
)
DATABASE = "postgres"
INITDB_OPTIONS = ("-A", "trust", "-E", "UTF8", "--no-locale", "--no-instructions")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


@dataclass(frozen=True)
class Binaries:
    initdb: Path
    postgres: Path
    version: str


@dataclass(frozen=True)
class Server:
    """A running server: where to connect and what it is."""

    host: str
    port: int
    pid: int
    version: str
    data_dir: Path

    @property
    def conninfo(self) -> str:
        return f"host={self.host} port={self.port} dbname={DATABASE} user={DATABASE}"


def find_binaries() -> Binaries:
    """The newest installed major version's ``initdb`` and ``postgres``; :class:`PostgresMissing` if none."""
    found = sorted(Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb") if Path(p).is_file())
    found = [b for b in found if (b / "postgres").is_file()]
    if not found:
        raise PostgresMissing(INSTALL_HINT)
    newest = max(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else -1)
    return Binaries(newest / "initdb", newest / "postgres", newest.parent.name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(command: Sequence[str]) -> list[str]:
    """``command`` as run by the server's user: itself unless we are root, else ``nobody`` via setpriv."""
    if os.geteuid() != 0:
        return list(command)
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    return [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--clear-groups",
        "--",
        *command,
    ]


def _hand_over(root: Path) -> None:
    """Give the temporary directory to the server's user (only when we are root)."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(UNPRIVILEGED_USER)
    for path in (root, *root.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)


def _wait_ready(server: Server, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode}; see {log}")
        try:
            with psycopg.connect(server.conninfo, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not accept connections in {START_TIMEOUT_S}s") from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT) of the server we started, by its PID; SIGKILL if it does not go."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_postgres(settings: Sequence[str] = ()) -> Iterator[Server]:
    """A fresh cluster in a temporary directory, served on 127.0.0.1 at a free port until the block ends.

    ``settings`` are extra ``name=value`` server settings (``-c``)."""
    binaries = find_binaries()
    root = Path(tempfile.mkdtemp(prefix="joinedup-pg-"))
    data, sockets, log = root / "data", root / "sockets", root / "postgres.log"
    try:
        sockets.mkdir()
        log.touch()
        _hand_over(root)
        subprocess.run(
            _as_server_user([str(binaries.initdb), "-D", str(data), "-U", DATABASE, *INITDB_OPTIONS]),
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = [
            "listen_addresses=127.0.0.1",
            f"port={port}",
            f"unix_socket_directories={sockets}",
            "synchronous_commit=on",
            "fsync=on",
            *settings,
        ]
        command = [str(binaries.postgres), "-D", str(data)]
        for option in options:
            command += ["-c", option]
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                _as_server_user(command), stdout=log_file, stderr=subprocess.STDOUT, cwd=root
            )
        try:
            server = Server("127.0.0.1", port, process.pid, binaries.version, data)
            _wait_ready(server, process, log)
            yield server
        finally:
            _stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def server_pids(server: Server) -> list[int]:
    """The server's PID and its children's (backends, WAL writer, checkpointer...), for CPU accounting."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    try:
        return [server.pid, *(int(p) for p in children.read_text().split())]
    except OSError:
        return [server.pid]


def server_cpu_seconds(server: Server) -> float:
    """User + system CPU seconds of the server and its live children (from /proc). Backends that exited
    are not counted, so measure over connections held open for the whole measurement."""
    total = 0.0
    for pid in server_pids(server):
        try:
            total += process_cpu_seconds(pid)
        except OSError:
            continue
    return total
