"""The HTTP adapters to the consent service (decisions over a local aiohttp server, trail over a mock
transport), and failing closed."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from joinedup.projections.api.consent_trail import ConsentTrailUnavailableError, HttpConsentTrailPort
from joinedup.projections.api.decisions import (
    DECISION_UNAVAILABLE,
    DecisionAnswer,
    DecisionQuestion,
    DecisionsUnavailableError,
    HttpDecisionPort,
    SubjectRecord,
    ask_decisions,
)

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)


def question(category: str = "criminal-justice", justification: str | None = None) -> DecisionQuestion:
    return DecisionQuestion(
        subject_records=(SubjectRecord(agency="police", local_person_id="P-9"),),
        owner="police",
        recipient="council-asc",
        purpose="care-coordination",
        category=category,
        at=AT,
        break_glass_justification=justification,
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def served(
    handler: Handler, questions: list[DecisionQuestion], *, timeout_s: float = 2.0, direct: bool = True
) -> Any:
    """Ask ``questions`` through the adapter of a consent service answering with ``handler`` (unless not
    ``direct``): the answers, or the error the adapter raised; then ``ask_decisions`` over the same server."""
    app = web.Application()
    app.router.add_post("/v1/decisions", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    adapter = HttpDecisionPort(str(server.make_url("")), "svc-token", timeout_s=timeout_s)
    try:
        answered: Any = None
        if direct:
            try:
                answered = await adapter.decide(questions)
            except DecisionsUnavailableError as error:
                answered = error
        return answered, await ask_decisions(adapter, questions)
    finally:
        await adapter.aclose()
        await server.close()


def test_the_batch_is_posted_in_the_consent_services_wire_shape_with_the_service_token() -> None:
    seen: list[tuple[str, str, str, bytes]] = []

    async def answer(request: web.Request) -> web.StreamResponse:
        seen.append((request.method, request.path, request.headers["Authorization"], await request.read()))
        return web.json_response(
            {
                "decisions": [
                    {
                        "permit": True,
                        "basis_kind": "agreement",
                        "basis_id": "isa-7",
                        "lawful_basis": "public-task",
                        "legal_reference": "Care Act 2014 s.6",
                        "reason": None,
                        "overridden_statement_id": None,
                    },
                    {"permit": False, "basis_kind": "none", "reason": "no-basis"},
                ]
            }
        )

    answers, _ = asyncio.run(
        served(answer, [question(), question("health", "Risk to life reported by crew")])
    )
    method, path, authorization, content = seen[0]
    assert (method, path) == ("POST", "/v1/decisions")
    assert authorization == "Bearer svc-token"
    body = json.loads(content)
    assert body["questions"][0] == {
        "subject_records": [{"agency": "police", "local_person_id": "P-9"}],
        "owner": "police",
        "recipient": "council-asc",
        "purpose": "care-coordination",
        "category": "criminal-justice",
        "at": "2026-03-10T12:00:00Z",
        "break_glass_justification": None,
    }
    assert body["questions"][1]["break_glass_justification"] == "Risk to life reported by crew"
    assert [(a.permit, a.basis_kind, a.basis_id) for a in answers] == [
        (True, "agreement", "isa-7"),
        (False, "none", None),
    ]


async def slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(1.0)
    return web.json_response({"decisions": []})


async def dropped(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    return web.Response()


def replying(status: int, body: object) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        slow,
        dropped,
        replying(500, "boom"),
        replying(401, {"detail": "who?"}),
        replying(200, "not json"),
        replying(200, {"decisions": [{"permit": "maybe"}]}),
    ],
    ids=["timeout", "dropped", "500", "401", "not-json", "malformed"],
)
def test_every_failure_of_the_decision_point_denies_every_question(handler: Handler) -> None:
    direct, answers = asyncio.run(served(handler, [question(), question("health")], timeout_s=0.3))
    assert isinstance(direct, DecisionsUnavailableError)
    assert [(a.permit, a.reason) for a in answers] == [(False, DECISION_UNAVAILABLE)] * 2


def test_a_consent_service_that_is_not_listening_denies_every_question() -> None:
    async def ask() -> list[DecisionAnswer]:
        with socket.socket() as probe:  # a port nobody listens on once closed
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        adapter = HttpDecisionPort(f"http://127.0.0.1:{port}", "svc-token", timeout_s=0.5)
        try:
            return await ask_decisions(adapter, [question()])
        finally:
            await adapter.aclose()

    assert [(a.permit, a.reason) for a in asyncio.run(ask())] == [(False, DECISION_UNAVAILABLE)]


def test_an_answer_count_that_does_not_match_denies_every_question() -> None:
    one = replying(200, {"decisions": [{"permit": True, "basis_kind": "consent"}]})
    _, answers = asyncio.run(served(one, [question(), question("health")]))
    assert [a.permit for a in answers] == [False, False]


def test_no_question_means_no_call() -> None:
    calls: list[web.Request] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        calls.append(request)
        return web.json_response({"decisions": []})

    _, answers = asyncio.run(served(handler, [], direct=False))
    assert answers == []
    assert calls == []


def raising(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


def trail_port(handler: Callable[[httpx.Request], httpx.Response]) -> HttpConsentTrailPort:
    client = httpx.Client(base_url="http://consent", transport=httpx.MockTransport(handler))
    return HttpConsentTrailPort("http://consent", "dpo-token", client=client)


def test_the_trail_is_asked_for_every_record_and_passed_on() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "subject_records": [{"agency": "police", "local_person_id": "P 9"}],
                "entries": [
                    {
                        "at": "2026-01-01T00:00:00Z",
                        "action": "given",
                        "ref": "st-1",
                        "version": 1,
                        "event": {"x": 1},
                    }
                ],
            },
        )

    records = [
        SubjectRecord(agency="police", local_person_id="P 9"),
        SubjectRecord(agency="gp-practice", local_person_id="G1"),
    ]
    trail = trail_port(handler).trail(records)
    assert seen[0].url.path == "/v1/subjects/trail"
    assert seen[0].url.params.get_list("record") == ["police/P 9", "gp-practice/G1"]
    assert seen[0].headers["authorization"] == "Bearer dpo-token"
    assert trail.entries[0].ref == "st-1"


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ReadTimeout("slow")),
        lambda request: httpx.Response(403),
        lambda request: httpx.Response(200, json={}),
    ],
    ids=["timeout", "403", "malformed"],
)
def test_a_trail_that_cannot_be_had_is_an_error(handler: Callable[[httpx.Request], httpx.Response]) -> None:
    with pytest.raises(ConsentTrailUnavailableError):
        trail_port(handler).trail([SubjectRecord(agency="police", local_person_id="P-9")])
