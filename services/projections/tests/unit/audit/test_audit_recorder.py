"""Audit sinks: the in-memory log, the Kafka sink over a fake producer (group commit, failures), and
`joinedup audit verify`."""

from __future__ import annotations

import asyncio
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


class FakeTopic:
    """The audit partition: what was acknowledged, in order, plus what the producers sent and hold."""

    def __init__(self) -> None:
        self.messages: list[tuple[bytes | None, bytes | None, int | None]] = []
        self.failing = False
        self.hold = False
        """Keep acks back until :meth:`release` (to let requests queue behind a batch in flight)."""
        self.held: list[tuple[asyncio.Future[None], tuple[bytes | None, bytes | None, int | None]]] = []
        self.most_in_flight = 0
        self.producers: list[FakeProducer] = []

    def release(self) -> None:
        held, self.held = self.held, []
        for ack, message in held:
            self.messages.append(message)
            ack.set_result(None)

    def decoded(self) -> list[AccessRecorded]:
        codec = default_codec()
        return [codec.decode_as(value, AccessRecorded) for _, value, _ in self.messages if value is not None]

    def producer(self) -> FakeProducer:
        made = FakeProducer(self)
        self.producers.append(made)
        return made


class FakeProducer:
    """An aiokafka producer over a :class:`FakeTopic`."""

    def __init__(self, topic: FakeTopic) -> None:
        self.topic = topic
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[None]:
        assert topic == AUDIT_ACCESS
        assert self.started
        assert not self.stopped
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.topic.failing:
            ack.set_exception(TimeoutError("broker down"))
        elif self.topic.hold:
            self.topic.held.append((ack, (key, value, partition)))
            self.topic.most_in_flight = max(self.topic.most_in_flight, len(self.topic.held))
        else:
            self.topic.messages.append((key, value, partition))
            ack.set_result(None)
        return ack

    async def stop(self) -> None:
        self.stopped = True


def tail_of(topic: FakeTopic) -> ChainTail | None:
    found = topic.decoded()
    return ChainTail.of(found[-1]) if found else None


def test_the_in_memory_log_continues_its_chain_across_appends_and_filters_queries() -> None:
    log = InMemoryAuditLog()
    asyncio.run(log.append([draft(0), draft(1, agency="police")]))
    log.append_now([draft(2, person_id="p-2")])
    assert [r.sequence for r in log.all] == [0, 1, 2]
    assert verify(list(log.all)) == []
    assert [r.sequence for r in log.records(AuditQuery(agency="police"))] == [1]
    assert [r.sequence for r in log.records(AuditQuery(person_id="p-2"))] == [2]
    window = AuditQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=2))
    assert [r.sequence for r in log.records(window)] == [1]
    assert len(log.records(AuditQuery(limit=2))) == 2


def test_the_kafka_sink_appends_to_one_partition_keyed_by_agency_and_continues_the_tail() -> None:
    topic = FakeTopic()
    first = KafkaAuditSink(topic.producer, lambda: tail_of(topic))
    first.start()
    asyncio.run(first.append([draft(0), draft(1)]))
    restarted = KafkaAuditSink(topic.producer, lambda: tail_of(topic))
    restarted.start()
    asyncio.run(restarted.append([draft(2, agency="police")]))
    written = topic.decoded()
    assert [r.sequence for r in written] == [0, 1, 2]
    assert verify(written) == []
    assert {partition for _, _, partition in topic.messages} == {0}
    assert topic.messages[2][0] == b"police"


def test_requests_queued_behind_a_batch_in_flight_share_the_next_send_and_get_their_own_records() -> None:
    topic = FakeTopic()
    topic.hold = True
    sink = KafkaAuditSink(topic.producer, lambda: tail_of(topic))
    sink.start()

    async def scenario() -> list[list[AccessRecorded]]:
        first = asyncio.create_task(sink.append([draft(0)]))
        while not topic.held:  # the first request's record is on its way, its ack held back
            await asyncio.sleep(0)
        later = [asyncio.create_task(sink.append([draft(n), draft(n + 10)])) for n in (1, 2, 3)]
        await asyncio.sleep(0.01)
        assert len(topic.held) == 1  # the later ones wait for the batch in flight
        topic.release()
        while len(topic.held) < 6:
            await asyncio.sleep(0)
        topic.release()
        found = [await first, *[await task for task in later]]
        await sink.aclose()
        return found

    answered = asyncio.run(scenario())
    written = topic.decoded()
    assert [r.sequence for r in written] == list(range(7))
    assert verify(written) == []
    assert topic.most_in_flight == 6  # the three queued requests went out together
    assert [[r.sequence for r in records] for records in answered] == [[0], [1, 2], [3, 4], [5, 6]]
    assert [r.envelope.correlation_id for r in answered[2]] == ["req-2", "req-12"]
    assert len(topic.producers) == 1
    assert topic.producers[0].stopped


def test_a_failed_send_fails_the_request_stops_the_producer_and_the_next_append_rereads_the_tail() -> None:
    topic = FakeTopic()
    reads: list[int] = []

    def read_tail() -> ChainTail | None:
        reads.append(1)
        return tail_of(topic)

    sink = KafkaAuditSink(topic.producer, read_tail)

    async def scenario() -> None:
        await sink.append([draft(0)])
        topic.failing = True
        with pytest.raises(AuditUnavailableError):
            await sink.append([draft(1)])
        topic.failing = False
        await sink.append([draft(2)])

    asyncio.run(scenario())
    assert len(reads) == 2
    assert [p.stopped for p in topic.producers] == [True, False]
    assert [r.sequence for r in topic.decoded()] == [0, 1]
    assert verify(topic.decoded()) == []


def test_an_unreadable_tail_makes_the_sink_unavailable() -> None:
    def broken() -> ChainTail | None:
        raise ConnectionError("no broker")

    sink = KafkaAuditSink(FakeTopic().producer, broken)
    with pytest.raises(AuditUnavailableError):
        sink.start()
    with pytest.raises(AuditUnavailableError):
        asyncio.run(sink.append([draft(0)]))


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
    log.append_now([draft(n) for n in range(3)])
    result = run_verify(monkeypatch, entries_of(list(log.all)))
    assert result.exit_code == 0, result.output
    assert "intact: 3 records" in result.output


def test_audit_verify_fails_after_a_planted_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    log = InMemoryAuditLog()
    log.append_now([draft(n) for n in range(3)])
    found = list(log.all)
    planted = found[1].model_copy(update={"user_id": "someone-else"})
    found[1] = planted.model_copy(update={"hash": record_hash(planted)})
    result = run_verify(monkeypatch, entries_of(found))
    assert result.exit_code == 1
    assert "broken-link" in result.output


def test_audit_verify_reports_an_undecodable_message(monkeypatch: pytest.MonkeyPatch) -> None:
    log = InMemoryAuditLog()
    log.append_now([draft(n) for n in range(2)])
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
