"""The consent service on a real broker: statements (intake topic) and an agreement (API) in, decisions and
the trail out; a withdrawal published after the agreement changes later decisions and not earlier ones;
every output exactly once, also across a restart."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

from joinedup.consent.adapters.submissions import consent_submission, submission_key
from joinedup.consent.app.testing import day
from joinedup.consent.bootstrap import ConsentProcess, build, run_loops, serve
from joinedup.consent.settings import ConsentSettings
from joinedup.contract.kafka import producer, topic_offsets
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SERVICE = {"Authorization": "Bearer svc-token"}
DPO = {"Authorization": "Bearer dpo-token"}
MH = "nhs-mh-trust"
NOW = datetime(2026, 1, 2, 9, tzinfo=UTC)
TIMEOUT_S = 60.0


def _question(person: str, at: str) -> dict[str, Any]:
    return {
        "subject_records": [{"agency": MH, "local_person_id": person}],
        "owner": MH,
        "recipient": "council-asc",
        "purpose": "care-coordination",
        "category": "mental-health",
        "at": at,
    }


QUESTIONS = [_question("MH-1", "2026-02-01T00:00:00Z"), _question("MH-1", "2026-04-01T00:00:00Z")]
QUESTIONS.append(_question("MH-2", "2026-04-01T00:00:00Z"))


def _statement(**options: Any) -> AvroRecord:
    return consent_submission(agency=MH, valid_from=day("2026-01-01"), **options)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def _read_all(bootstrap: str, topic: str, expected: int) -> list[AvroRecord]:
    """Every committed record on ``topic`` once ``expected`` have arrived (and nothing more for a moment)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed", enable_auto_commit=False
    )
    await consumer.start()
    try:
        ends = await asyncio.to_thread(topic_offsets, bootstrap, topic)
        partitions = [TopicPartition(topic, p) for p in sorted(ends)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + TIMEOUT_S
        quiet_until = None
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            values.extend(m.value for tp in sorted(batch) for m in batch[tp])
            if len(values) >= expected:
                now = asyncio.get_running_loop().time()
                quiet_until = quiet_until or now + 1.0
                if now >= quiet_until:
                    break
        return [default_codec().decode(v) for v in values]
    finally:
        await consumer.stop()


class Running:
    def __init__(self, process: ConsentProcess, loops: asyncio.Task[None], stop: asyncio.Event) -> None:
        self.process = process
        self.loops = loops
        self.stop = stop
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=process.app), base_url="http://consent"
        )

    async def decisions(self) -> list[dict[str, Any]]:
        response = await self.http.post("/v1/decisions", headers=SERVICE, json={"questions": QUESTIONS})
        assert response.status_code == 200, response.text
        decisions: list[dict[str, Any]] = response.json()["decisions"]
        return decisions


@contextlib.asynccontextmanager
async def _running(
    settings: ConsentSettings, kafka: KafkaSettings, names: dict[str, str]
) -> AsyncIterator[Running]:
    process = build(settings, kafka, topic_names=names, clock=lambda: NOW)
    stop = asyncio.Event()
    loops = asyncio.create_task(run_loops(process, stop))
    running = Running(process, loops, stop)
    try:
        yield running
    finally:
        stop.set()
        try:
            await loops
        finally:
            await running.http.aclose()
            process.close()


async def _scenario(bootstrap: str, names: dict[str, str], data_dir: Path) -> None:
    tokens = data_dir / "tokens.yaml"
    tokens.write_text(
        "tokens:\n"
        "  svc-token: {agency: joinedup, user: projections, role: service}\n"
        f"  dpo-token: {{agency: {MH}, user: dpo-07, role: dpo}}\n"
    )
    settings = ConsentSettings(data_dir=data_dir, tokens_file=tokens, batch_size=200)
    kafka = KafkaSettings.model_validate({"KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    agency = producer(bootstrap, "test-agency")
    codec = default_codec()

    def send(record: AvroRecord | bytes, key: str) -> None:
        value = record if isinstance(record, bytes) else codec.encode(record)
        agency.send(names[f"joinedup.intake.{MH}"], value=value, key=key.encode()).get(timeout=30)

    try:
        async with _running(settings, kafka, names) as consent:
            registered = await consent.http.post(
                "/v1/agreements",
                headers=DPO,
                json={
                    "agreement_id": "isa-mh-asc",
                    "owner_agencies": [MH],
                    "recipient_agencies": ["council-asc"],
                    "purposes": ["care-coordination"],
                    "data_categories": ["mental-health"],
                    "lawful_basis": "health-social-care",
                    "legal_reference": "Care Act 2014 s.6",
                    "valid_from": "2026-01-01T00:00:00Z",
                },
            )
            assert registered.status_code == 202, registered.text
            given = _statement(person="MH-1", ref="CS-1", occurred_at=day("2026-01-10"))
            bad = _statement(person="MH-1", ref="BAD-1", occurred_at=day("2026-01-11"), purposes=["gossip"])
            for record in (given, bad):
                await asyncio.to_thread(send, record, submission_key(record))  # type: ignore[arg-type]
            await asyncio.to_thread(send, b"\xc3\x01not avro", "junk")

            async def before_withdrawal() -> bool:
                kinds = [d["basis_kind"] for d in await consent.decisions()]
                return kinds == ["consent", "consent", "agreement"]

            await _eventually(before_withdrawal, "the consent and the agreement to apply")
            earlier = await consent.decisions()

            withdrawn = _statement(
                person="MH-1", ref="CS-1", version=2, kind="withdrawn", occurred_at=day("2026-03-01")
            )
            await asyncio.to_thread(send, withdrawn, submission_key(withdrawn))  # type: ignore[arg-type]

            async def after_withdrawal() -> bool:
                return (await consent.decisions())[1]["permit"] is False

            await _eventually(after_withdrawal, "the withdrawal to apply")
            later = await consent.decisions()
            assert later[0] == earlier[0]  # before the withdrawal took effect: unchanged
            assert later[1] == {
                "permit": False,
                "basis_kind": "none",
                "basis_id": f"{MH}/CS-1",
                "lawful_basis": None,
                "legal_reference": None,
                "reason": "consent-withdrawn",
                "overridden_statement_id": None,
            }
            assert later[2]["basis_id"] == "isa-mh-asc"  # the agreement still serves everyone else

            trail = await consent.http.get("/v1/subjects/trail", headers=DPO, params={"record": f"{MH}/MH-1"})
            assert [(e["action"], e["ref"], e["version"], e["at"]) for e in trail.json()["entries"]] == [
                ("agreement-registered", "isa-mh-asc", 1, "2026-01-01T00:00:00Z"),
                ("given", f"{MH}/CS-1", 1, "2026-01-10T00:00:00Z"),
                ("withdrawn", f"{MH}/CS-1", 2, "2026-03-01T00:00:00Z"),
            ]

        receipts = await _read_all(bootstrap, names[f"joinedup.receipts.{MH}"], 3)
        assert sorted((type(r).__name__, r.submission_ref) for r in receipts) == [  # type: ignore[attr-defined]
            ("SubmissionAccepted", "CS-1"),
            ("SubmissionAccepted", "CS-1"),
            ("SubmissionRejected", "BAD-1"),
        ]
        rejected = next(r for r in receipts if isinstance(r, SubmissionRejected))
        assert (rejected.reason_code, rejected.field) == ("unknown-purpose", "scope.purposes")
        assert all(isinstance(r, SubmissionAccepted | SubmissionRejected) for r in receipts)
        letters = await _read_all(bootstrap, names["joinedup.deadletter"], 1)
        assert [(type(d).__name__, getattr(d, "consumer_group", None)) for d in letters] == [
            ("DeadLetter", "joinedup.consent.intake")
        ]
        assert isinstance(letters[0], DeadLetter)
        events = await _read_all(bootstrap, names["joinedup.consent.events"], 3)
        assert sorted(e.envelope.event_type for e in events) == [  # type: ignore[attr-defined]
            "ConsentGiven",
            "ConsentWithdrawn",
            "SharingAgreementRegistered",
        ]

        # A restart resumes from the stores: same decisions, nothing consumed or published twice.
        async with _running(settings, kafka, names) as again:
            await asyncio.wait_for(again.process.follower.caught_up.wait(), TIMEOUT_S)
            assert await again.decisions() == later
            assert again.process.follower.applied == 0
        assert len(await _read_all(bootstrap, names["joinedup.consent.events"], 3)) == 3
        assert len(await _read_all(bootstrap, names[f"joinedup.receipts.{MH}"], 3)) == 3
    finally:
        agency.close()


def test_statements_and_an_agreement_in_decisions_and_trail_out_withdrawal_changes_only_later_decisions(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    asyncio.run(asyncio.wait_for(_scenario(kafka_bootstrap, catalog_topics, tmp_path), timeout=240))


async def _serve_over_http(bootstrap: str, names: dict[str, str], data_dir: Path, port: int) -> None:
    tokens = data_dir / "tokens.yaml"
    tokens.write_text("tokens:\n  svc-token: {agency: joinedup, user: projections, role: service}\n")
    settings = ConsentSettings(data_dir=data_dir, tokens_file=tokens, api_port=port)
    kafka = KafkaSettings.model_validate({"KAFKA_BOOTSTRAP_SERVERS": bootstrap})
    process = build(settings, kafka, topic_names=names)
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(process, settings, stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def healthy() -> bool:
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await _eventually(healthy, "the API to answer")
            await asyncio.wait_for(process.follower.caught_up.wait(), TIMEOUT_S)
            response = await http.post("/v1/decisions", headers=SERVICE, json={"questions": QUESTIONS[:1]})
            assert response.status_code == 200
            assert response.json()["decisions"][0]["reason"] == "no-basis"
    finally:
        stop.set()
        await serving
        process.close()
    assert serving.exception() is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_run_consent_serves_the_api_and_the_loops_on_one_event_loop(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    port = _free_port()
    asyncio.run(
        asyncio.wait_for(_serve_over_http(kafka_bootstrap, catalog_topics, tmp_path, port), timeout=120)
    )
