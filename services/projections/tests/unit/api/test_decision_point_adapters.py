"""The HTTP adapters to the consent service (decisions, trail) over a mock transport, and failing closed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from joinedup.projections.api.consent_trail import ConsentTrailUnavailableError, HttpConsentTrailPort
from joinedup.projections.api.decisions import (
    DECISION_UNAVAILABLE,
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


def port(handler: Callable[[httpx.Request], httpx.Response]) -> HttpDecisionPort:
    client = httpx.Client(base_url="http://consent", transport=httpx.MockTransport(handler))
    return HttpDecisionPort("http://consent", "svc-token", client=client)


def test_the_batch_is_posted_in_the_consent_services_wire_shape_with_the_service_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
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
            },
        )

    answers = port(answer).decide([question(), question("health", "Risk to life reported by crew")])
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/v1/decisions")
    assert request.headers["authorization"] == "Bearer svc-token"
    body = json.loads(request.content)
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


def raising(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        raising(httpx.ReadTimeout("slow")),
        raising(httpx.ConnectError("refused")),
        lambda request: httpx.Response(500, text="boom"),
        lambda request: httpx.Response(401, json={"detail": "who?"}),
        lambda request: httpx.Response(200, text="not json"),
        lambda request: httpx.Response(200, json={"decisions": [{"permit": "maybe"}]}),
    ],
    ids=["timeout", "refused", "500", "401", "not-json", "malformed"],
)
def test_every_failure_of_the_decision_point_denies_every_question(
    handler: Callable[[httpx.Request], httpx.Response],
) -> None:
    adapter = port(handler)
    with pytest.raises(DecisionsUnavailableError):
        adapter.decide([question()])
    answers = ask_decisions(adapter, [question(), question("health")])
    assert [(a.permit, a.reason) for a in answers] == [(False, DECISION_UNAVAILABLE)] * 2


def test_an_answer_count_that_does_not_match_denies_every_question() -> None:
    adapter = port(
        lambda request: httpx.Response(200, json={"decisions": [{"permit": True, "basis_kind": "consent"}]})
    )
    answers = ask_decisions(adapter, [question(), question("health")])
    assert not any(a.permit for a in answers)


def test_no_question_means_no_call() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"decisions": []})

    assert ask_decisions(port(handler), []) == []
    assert calls == []


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
