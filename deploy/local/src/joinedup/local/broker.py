"""A real Apache Kafka broker (KRaft, broker+controller in one JVM) run from Maven Central jars.

The jars are fetched once with ``mvn dependency:copy-dependencies`` from ``deploy/kafka/pom.xml`` into a
cache folder; every later start reuses them. Each broker lives in its own data folder (config, KRaft
storage, logs, pid file), so tests can run throwaway brokers beside the one ``joinedup broker start`` runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from joinedup.local.layout import kafka_deploy_dir
from joinedup.local.processes import cmdline, pid_alive, terminate, wait_gone

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
DEFAULT_PORT = 9092
DEFAULT_START_TIMEOUT_S = 90.0


class BrokerError(RuntimeError):
    """A broker could not be fetched, started, or stopped; the message says why and what to do."""


class JavaNotFound(BrokerError):
    pass


class MavenNotFound(BrokerError):
    pass


class PortInUse(BrokerError):
    pass


class BrokerDidNotStart(BrokerError):
    pass


@dataclass(frozen=True)
class JarCache:
    """The Kafka jars, fetched from Maven Central once per version of the pom."""

    directory: Path
    pom: Path

    @property
    def lib(self) -> Path:
        return self.directory / "lib"

    @property
    def _stamp(self) -> Path:
        return self.directory / "pom.sha256"

    def _pom_digest(self) -> str:
        return hashlib.sha256(self.pom.read_bytes()).hexdigest()

    def is_ready(self) -> bool:
        return (
            self._stamp.exists()
            and self._stamp.read_text().strip() == self._pom_digest()
            and any(self.lib.glob("kafka_2.13-*.jar"))
        )

    def ensure(self, log: Callable[[str], None] = lambda _msg: None) -> bool:
        """Fetch the jars unless cached. Returns True when it had to download."""
        if self.is_ready():
            return False
        mvn = shutil.which("mvn")
        if mvn is None:
            raise MavenNotFound(
                "Maven ('mvn') is not on PATH and the Kafka jars are not cached yet in "
                f"{self.lib}. Install Maven (Debian: apt-get install maven) or point "
                "KAFKA_BOOTSTRAP_SERVERS at an existing broker."
            )
        log(f"fetching Apache Kafka jars with Maven into {self.lib} (once) ...")
        staging = self.directory / "lib.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        cmd = [
            mvn, "-q", "-B", "-f", str(self.pom), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
            raise BrokerError(f"mvn could not fetch the Kafka jars (exit {proc.returncode}):\n{tail}")
        shutil.rmtree(self.lib, ignore_errors=True)
        staging.rename(self.lib)
        self._stamp.write_text(self._pom_digest() + "\n")
        return True


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    data_dir: Path
    answering: bool

    def describe(self) -> str:
        if not self.running:
            return f"stopped (data in {self.data_dir})"
        state = "up" if self.answering else "starting or not answering"
        return f"{state} at {self.bootstrap} (pid {self.pid}, data in {self.data_dir})"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on the port. (A bind test would also trip over sockets in TIME_WAIT left by a
    broker that was just killed, which the JVM's own SO_REUSEADDR bind does not mind.)"""
    return not _accepts_connections(f"{host}:{port}", timeout_s=1.0)


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768+), so no outgoing connection can take it from a
    broker between its restarts (a port from bind(0) can be handed out again as a client's local port)."""
    for _ in range(200):
        port = 20_000 + secrets.randbelow(12_000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise BrokerError("no free port found between 20000 and 32000 on 127.0.0.1")


def _accepts_connections(bootstrap: str, timeout_s: float) -> bool:
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when the broker answers a metadata request (a cluster with at least one broker)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    if not _accepts_connections(bootstrap, timeout_s):
        return False  # cheap: no client, no retries, while the JVM is still starting
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=int(timeout_s * 1000),
            reconnect_backoff_max_ms=200,
            request_timeout_ms=int(timeout_s * 1000),
            client_id="joinedup-broker-probe",
        )
    except (KafkaError, OSError, ValueError):
        return False
    try:
        return len(admin.describe_cluster().get("brokers", [])) > 0
    except (KafkaError, OSError, ValueError):
        return False
    finally:
        admin.close()


class LocalBroker:
    """One broker, one data folder: ``<data_dir>/{server.properties, kraft/, logs/, broker.pid}``."""

    def __init__(
        self,
        data_dir: Path,
        jars: JarCache,
        port: int = DEFAULT_PORT,
        controller_port: int | None = None,
        heap: str = "768m",
    ) -> None:
        self.data_dir = data_dir
        self.jars = jars
        self.port = port
        self.controller_port = controller_port if controller_port is not None else port + 1
        self.heap = heap

    # -- layout -------------------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "kraft"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def console_log(self) -> Path:
        return self.logs / "console.log"

    # -- state --------------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of this data folder's broker if it is running (the pid file alone is not trusted)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid):
            return None
        cmd = cmdline(pid)
        if KAFKA_MAIN not in cmd or str(self.config_path) not in cmd:
            return None  # the pid was reused by some other process
        return pid

    def status(self) -> BrokerStatus:
        pid = self.pid()
        answering = pid is not None and broker_answers(self.bootstrap)
        return BrokerStatus(pid is not None, pid, self.bootstrap, self.data_dir, answering)

    def log_tail(self, lines: int = 20) -> str:
        chunks: list[str] = []
        for path in (self.console_log, self.logs / "server.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()
                chunks.extend(text[-lines:])
        return "\n".join(chunks[-lines:]) or "(the broker wrote no log)"

    # -- actions ------------------------------------------------------------------------------------
    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise JavaNotFound(
                "Java is not on PATH. The local Kafka broker needs a JDK 17 or newer "
                "(Debian: apt-get install openjdk-17-jre-headless), or set KAFKA_BOOTSTRAP_SERVERS "
                "to use an existing broker."
            )
        return java

    def _write_config(self) -> None:
        template = (kafka_deploy_dir() / "server.properties.template").read_text()
        self.config_path.write_text(
            template.format(port=self.port, controller_port=self.controller_port, log_dir=self.log_dir)
        )

    def _format_storage(self, java: str) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        proc = subprocess.run(
            [java, "-cp", f"{self.jars.lib}/*", STORAGE_TOOL, "format", f"--cluster-id={cluster_id}",
             "-c", str(self.config_path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{proc.stdout}{proc.stderr}")

    def start(
        self,
        timeout_s: float = DEFAULT_START_TIMEOUT_S,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> int:
        """Start the broker unless it already runs; wait until it answers a metadata request."""
        running = self.pid()
        if running is not None:
            log(f"broker already running at {self.bootstrap} (pid {running})")
            return running
        java = self._java()
        self.jars.ensure(log)
        for port in (self.port, self.controller_port):
            if not port_is_free(port):
                raise PortInUse(
                    f"port {port} on 127.0.0.1 is already in use; stop what holds it or choose "
                    "another with --port (the controller uses --port + 1)."
                )
        self.logs.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._format_storage(java)
        log_config = kafka_deploy_dir() / "log4j2.yaml"
        cmd = [
            java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log_config}", f"-Dkafka.logs.dir={self.logs}",
            "-cp", f"{self.jars.lib}/*", KAFKA_MAIN, str(self.config_path),
        ]  # fmt: skip
        with self.console_log.open("ab") as console:
            proc = subprocess.Popen(
                cmd, stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.data_dir,
            )  # fmt: skip
        self.pid_file.write_text(f"{proc.pid}\n")
        log(f"broker starting at {self.bootstrap} (pid {proc.pid}); waiting for it to answer ...")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                if "Address already in use" in self.log_tail(200):
                    raise PortInUse(
                        f"port {self.port} or {self.controller_port} on 127.0.0.1 is already in use; "
                        "choose another with --port."
                    )
                raise BrokerDidNotStart(
                    f"the broker exited with code {proc.returncode} during start-up. "
                    f"Last lines of its log:\n{self.log_tail()}"
                )
            if broker_answers(self.bootstrap, timeout_s=1.0):
                return proc.pid
            time.sleep(0.25)
        terminate(proc.pid, grace_s=5.0)
        proc.wait()
        self.pid_file.unlink(missing_ok=True)
        raise BrokerDidNotStart(
            f"the broker did not answer at {self.bootstrap} within {timeout_s:g} s (it was stopped). "
            f"Last lines of its log ({self.logs}):\n{self.log_tail()}"
        )

    def stop(self, grace_s: float = 30.0) -> bool:
        """Stop exactly this folder's broker. Returns False when it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid, grace_s)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL the broker (for crash tests): no clean shutdown, the pid file stays."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 10.0)
