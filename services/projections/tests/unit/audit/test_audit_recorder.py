"""Audit sinks: the in-memory log, the Kafka sink over a fake producer, and `joinedup audit verify`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from joinedup.contract.models.audit import AccessRecorded
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import AUDIT_ACCESS
from joinedup.projections.audit import recorder
from joinedup.projections.audit.chain import AccessDraft, ChainTail, record_hash, verify
from joinedup.projections.audit.recorder import (
    AuditQuery,
    AuditUnavailableError,
    ChainEntry,
    InMemoryAuditLog,
    KafkaAuditSink,
)
from joinedup.projections.entrypoints.audit_cli import register_audit

T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def draft(n: int, agency: str = "council-asc", person_id: str | None = "p-1") -> AccessDraft:
    return AccessDraft(
        request_id=f"req-{n}",
        at=T0 + timedelta(minutes=n),
        user_id="cw-1",
        agency=agency,
        role="caseworker",
        purpose="care-coordination",
        request="GET /v1/persons/{person_id}",
        person_id=person_id,
        outcome="disclosed",
    )


class Sent:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> Any:
        if self.error is not None:
            raise self.error
        return None


class FakeProducer:
    """Keeps what was sent as the topic's messages; can be told to fail the next sends."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes | None, bytes | None, int | None]] = []
        self.failing = False

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        partition: int | None = None,
    ) -> Sent:
        assert topic == AUDIT_ACCESS
        if self.failing:
            return Sent(TimeoutError("broker down"))
        self.messages.append((key, value, partition))
        return Sent()

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None

    def decoded(self) -> list[AccessRecorded]:
        codec = default_codec()
        return [codec.decode_as(value, AccessRecorded) for _, value, _ in self.messages if value is not None]


def tail_of(producer: FakeProducer) -> ChainTail | None:
    found = producer.decoded()
    return ChainTail.of(found[-1]) if found else None


def test_the_in_memory_log_continues_its_chain_across_appends_and_filters_queries() -> None:
    log = InMemoryAuditLog()
    log.append([draft(0), draft(1, agency="police")])
    log.append([draft(2, person_id="p-2")])
    assert [r.sequence for r in log.all] == [0, 1, 2]
    assert verify(list(log.all)) == []
    assert [r.sequence for r in log.records(AuditQuery(agency="police"))] == [1]
    assert [r.sequence for r in log.records(AuditQuery(person_id="p-2"))] == [2]
    window = AuditQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert [r.sequence for r in log.records(window)] == [1]
    assert len(log.records(AuditQuery(limit=2))) == 2


def test_the_kafka_sink_appends_to_one_partition_keyed_by_agency_and_continues_the_tail() -> None:
    producer = FakeProducer()
    first = KafkaAuditSink(producer, lambda: tail_of(producer))
    first.start()
    first.append([draft(0), draft(1)])
    restarted = KafkaAuditSink(producer, lambda: tail_of(producer))
    restarted.start()
    restarted.append([draft(2, agency="police")])
    written = producer.decoded()
    assert [r.sequence for r in written] == [0, 1, 2]
    assert verify(written) == []
    assert {partition for _, _, partition in producer.messages} == {0}
    assert producer.messages[2][0] == b"police"


def test_a_failed_send_raises_and_the_next_append_rereads_the_tail() -> None:
    producer = FakeProducer()
    reads: list[int] = []

    def read_tail() -> ChainTail | None:
        reads.append(1)
        return tail_of(producer)

    sink = KafkaAuditSink(producer, read_tail)
    sink.append([draft(0)])
    producer.failing = True
    with pytest.raises(AuditUnavailableError):
        sink.append([draft(1)])
    producer.failing = False
    sink.append([draft(2)])
    assert len(reads) == 2
    assert [r.sequence for r in producer.decoded()] == [0, 1]
    assert verify(producer.decoded()) == []


def test_an_unreadable_tail_makes_the_sink_unavailable() -> None:
    def broken() -> ChainTail | None:
        raise ConnectionError("no broker")

    sink = KafkaAuditSink(FakeProducer(), broken)
    with pytest.raises(AuditUnavailableError):
        sink.start()
    with pytest.raises(AuditUnavailableError):
        sink.append([draft(0)])


def cli() -> typer.Typer:
    app = typer.Typer()
    register_audit(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps `audit` a sub-command
        return None

    return app


def entries_of(found: list[AccessRecorded]) -> list[ChainEntry]:
    return [ChainEntry(offset, record) for offset, record in enumerate(found)]


def run_verify(monkeypatch: pytest.MonkeyPatch, entries: list[ChainEntry]) -> Any:
    def read_chain(bootstrap: str, topic: str = AUDIT_ACCESS, **_: Any) -> Iterator[ChainEntry]:
        assert bootstrap == "broker:9092"
        return iter(entries)

    monkeypatch.setattr(recorder, "read_chain", read_chain)
    return CliRunner().invoke(cli(), ["audit", "verify", "--bootstrap", "broker:9092"])


def test_audit_verify_passes_an_intact_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    log = InMemoryAuditLog()
    log.append([draft(n) for n in range(3)])
    result = run_verify(monkeypatch, entries_of(list(log.all)))
    assert result.exit_code == 0, result.output
    assert "intact: 3 records" in result.output


def test_audit_verify_fails_after_a_planted_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    log = InMemoryAuditLog()
    log.append([draft(n) for n in range(3)])
    found = list(log.all)
    planted = found[1].model_copy(update={"user_id": "someone-else"})
    found[1] = planted.model_copy(update={"hash": record_hash(planted)})
    result = run_verify(monkeypatch, entries_of(found))
    assert result.exit_code == 1
    assert "broken-link" in result.output


def test_audit_verify_reports_an_undecodable_message(monkeypatch: pytest.MonkeyPatch) -> None:
    log = InMemoryAuditLog()
    log.append([draft(n) for n in range(2)])
    entries = [*entries_of(list(log.all)), ChainEntry(2, None, "TrailingBytes: 3 bytes left")]
    result = run_verify(monkeypatch, entries)
    assert result.exit_code == 1
    assert "undecodable message at offset 2" in result.output


def test_audit_verify_exits_2_when_the_broker_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(bootstrap: str, topic: str = AUDIT_ACCESS, **_: Any) -> Iterator[ChainEntry]:
        raise ConnectionError("no broker")

    monkeypatch.setattr(recorder, "read_chain", unreachable)
    result = CliRunner().invoke(cli(), ["audit", "verify", "--bootstrap", "broker:9092"])
    assert result.exit_code == 2
