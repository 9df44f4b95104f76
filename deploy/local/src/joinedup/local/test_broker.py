"""Choose a Kafka broker for a test session: an existing cluster, a testcontainers broker, or our own jars.

Order: ``KAFKA_BOOTSTRAP_SERVERS`` if set; testcontainers' Kafka module (KRaft) when a Docker engine answers;
otherwise a throwaway jar broker on a free port with a temporary data folder. A broker that cannot start is
an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from joinedup.local.broker import JarCache, LocalBroker, free_port
from joinedup.local.layout import jar_cache_dir, kafka_deploy_dir


@dataclass(frozen=True)
class SessionBroker:
    bootstrap: str
    source: str  # "env", "testcontainers" or "jars"
    local: LocalBroker | None = None


def _testcontainers_broker() -> contextlib.AbstractContextManager[str] | None:
    try:
        from docker.errors import DockerException
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        return None
    try:
        container = KafkaContainer().with_kraft()
    except DockerException:
        return None

    @contextlib.contextmanager
    def running() -> Iterator[str]:
        with container as started:
            yield started.get_bootstrap_server()

    return running()


@contextlib.contextmanager
def session_broker(data_root: Path) -> Iterator[SessionBroker]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield SessionBroker(configured, "env")
        return
    docker = _testcontainers_broker()
    if docker is not None:
        with docker as bootstrap:
            yield SessionBroker(bootstrap, "testcontainers")
        return
    broker = LocalBroker(
        data_root / "broker",
        JarCache(jar_cache_dir(), kafka_deploy_dir() / "pom.xml"),
        port=free_port(),
        controller_port=free_port(),
        heap="512m",
    )
    broker.start(timeout_s=120)
    try:
        yield SessionBroker(broker.bootstrap, "jars", broker)
    finally:
        broker.stop(grace_s=20)
