"""The jar broker: clear errors, cached jars, durability across kill -9."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from joinedup.local.broker import (
    BrokerDidNotStart,
    JarCache,
    JavaNotFound,
    LocalBroker,
    MavenNotFound,
    PortInUse,
    free_port,
)
from joinedup.local.layout import jar_cache_dir, kafka_deploy_dir


def shared_jars() -> JarCache:
    return JarCache(jar_cache_dir(), kafka_deploy_dir() / "pom.xml")


def throwaway_broker(tmp_path: Path, jars: JarCache | None = None) -> LocalBroker:
    return LocalBroker(
        tmp_path / "broker", jars or shared_jars(), port=free_port(), controller_port=free_port(), heap="384m"
    )


def test_a_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(JavaNotFound, match="Java is not on PATH"):
        throwaway_broker(tmp_path).start(timeout_s=5)


def test_missing_maven_with_no_cached_jars_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_cache = JarCache(tmp_path / "jars", kafka_deploy_dir() / "pom.xml")
    java_only = tmp_path / "bin"
    java_only.mkdir()
    (java_only / "java").symlink_to("/usr/bin/java")
    monkeypatch.setenv("PATH", str(java_only))
    with pytest.raises(MavenNotFound, match="'mvn'"):
        throwaway_broker(tmp_path, empty_cache).start(timeout_s=5)
    assert not empty_cache.lib.exists()


def test_cached_jars_are_reused_without_maven(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    jars = shared_jars()
    jars.ensure()  # the Makefile fetched them already; this is a no-op then
    monkeypatch.setenv("PATH", str(tmp_path))  # no mvn: a download would fail
    started = time.monotonic()
    assert jars.ensure() is False
    assert time.monotonic() - started < 1.0
    assert any(jars.lib.glob("kafka_2.13-4.1.*.jar"))
    assert any(jars.lib.glob("log4j-slf4j-impl-*.jar"))


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    broker = throwaway_broker(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", broker.port))
        squatter.listen()
        with pytest.raises(PortInUse, match=f"port {broker.port} on 127.0.0.1 is already in use"):
            broker.start(timeout_s=5)
    assert broker.pid() is None


@pytest.mark.broker
def test_a_broker_that_does_not_answer_in_time_is_stopped_and_its_log_shown(tmp_path: Path) -> None:
    broker = throwaway_broker(tmp_path)
    with pytest.raises(BrokerDidNotStart, match=r"did not answer .* within 0.5 s") as failure:
        broker.start(timeout_s=0.5)
    assert "Last lines of its log" in str(failure.value)
    assert broker.pid() is None
    assert not broker.pid_file.exists()


@pytest.mark.broker
@pytest.mark.slow
def test_records_survive_a_kill_minus_nine_of_the_broker(tmp_path: Path) -> None:
    broker = throwaway_broker(tmp_path)
    broker.start(timeout_s=120)
    try:
        from joinedup.contract.kafka import admin_client

        admin = admin_client(broker.bootstrap)
        admin.create_topics(
            {"durable": {"num_partitions": 2, "replication_factor": 1}}, wait_for_metadata=True
        )
        admin.close()
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True)
        for i in range(200):
            producer.send("durable", key=str(i).encode(), value=f"record-{i}".encode())
        producer.flush()
        producer.close()

        first_pid = broker.pid()
        assert first_pid is not None
        broker.kill()
        assert broker.pid() is None

        second_pid = broker.start(timeout_s=120)
        assert second_pid != first_pid
        consumer = KafkaConsumer(
            "durable",
            bootstrap_servers=broker.bootstrap,
            auto_offset_reset="earliest",
            consumer_timeout_ms=10_000,
            group_id=None,
        )
        seen = {record.value.decode() for record in consumer}
        consumer.close()
        assert seen == {f"record-{i}" for i in range(200)}
    finally:
        broker.stop(grace_s=20)
    assert broker.pid() is None
