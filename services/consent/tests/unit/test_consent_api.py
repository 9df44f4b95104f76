"""The HTTP API over an in-memory store and a fake publisher (what it publishes is consumed back)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from joinedup.consent.adapters.store_memory import InMemoryConsentStore
from joinedup.consent.app.handlers import ConsentService, ConsumedEvent, Position
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.ports import Issued, PublishFailedError
from joinedup.consent.app.testing import agreement, day, record, statement
from joinedup.consent.domain import AgreementEvent, ConsentEvent
from joinedup.consent.entrypoints.api import create_app
from joinedup.consent.entrypoints.tokens import Principal, TokenBook

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
TOKENS = {
    "svc": Principal(agency="joinedup", user="projections", role="service"),
    "dpo-mh": Principal(agency="nhs-mh-trust", user="dpo-07", role="dpo"),
    "dpo-police": Principal(agency="police", user="dpo-11", role="dpo"),
    "cw": Principal(agency="council-asc", user="user-4411", role="caseworker"),
}
SERVICE = {"Authorization": "Bearer svc"}
DPO = {"Authorization": "Bearer dpo-mh"}


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[AgreementEvent, Issued]] = []
        self.failing = False

    def publish(self, events: Sequence[AgreementEvent], issued: Issued) -> None:
        if self.failing:
            raise PublishFailedError("broker down")
        self.published.extend((event, issued) for event in events)


class Harness:
    def __init__(self, events: Sequence[ConsentEvent] = ()) -> None:
        self.service = ConsentService(InMemoryConsentStore(), known_codes())
        self.publisher = FakePublisher()
        self.client = TestClient(
            create_app(
                self.service,
                known_codes(),
                TokenBook(TOKENS),
                self.publisher,
                clock=lambda: NOW,
                max_questions=50,
            )
        )
        self.offset = 0
        self.consume(events)

    def consume(self, events: Sequence[ConsentEvent]) -> None:
        batch = []
        for event in events:
            batch.append(ConsumedEvent(event, Position("joinedup.consent.events", 0, self.offset)))
            self.offset += 1
        self.service.apply(batch)

    def consume_published(self) -> None:
        self.consume([event for event, _ in self.publisher.published])
        self.publisher.published.clear()


def _question(**overrides: Any) -> dict[str, Any]:
    asked: dict[str, Any] = {
        "subject_records": [{"agency": "council-asc", "local_person_id": "ASC-0001"}],
        "owner": "nhs-mh-trust",
        "recipient": "council-asc",
        "purpose": "care-coordination",
        "category": "mental-health",
        "at": "2026-03-01T00:00:00Z",
    }
    asked.update(overrides)
    return asked


def _agreement_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agreement_id": "isa-mh-asc",
        "owner_agencies": ["nhs-mh-trust"],
        "recipient_agencies": ["council-asc"],
        "purposes": ["care-coordination"],
        "data_categories": ["mental-health"],
        "lawful_basis": "health-social-care",
        "legal_reference": "Care Act 2014 s.6",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


def test_a_batch_of_questions_gets_one_decision_each_in_order() -> None:
    harness = Harness([agreement(), statement("objection", ref="OBJ-1", subject=record(person="ASC-0002"))])

    response = harness.client.post(
        "/v1/decisions",
        headers=SERVICE,
        json={
            "questions": [
                _question(),
                _question(subject_records=[{"agency": "council-asc", "local_person_id": "ASC-0002"}]),
                _question(recipient="police"),
                _question(owner="council-asc", recipient="council-asc"),
            ]
        },
    )

    assert response.status_code == 200
    decisions = response.json()["decisions"]
    assert [(d["permit"], d["basis_kind"]) for d in decisions] == [
        (True, "agreement"),
        (False, "none"),
        (False, "none"),
        (True, "own-record"),
    ]
    assert decisions[0]["basis_id"] == "isa-mh-asc"
    assert decisions[1]["reason"] == "objection"


def test_a_question_with_an_unknown_code_is_refused_naming_the_field() -> None:
    response = Harness().client.post(
        "/v1/decisions",
        headers=SERVICE,
        json={"questions": [_question(), _question(purpose="gossip")]},
    )

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "questions", 1, "purpose"],
            "msg": "'gossip' is not a known code",
            "type": "unknown-purpose",
        }
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"questions": []}, "questions"),
        ({"questions": [_question(at="2026-03-01T00:00:00")]}, "at"),
        ({"questions": [_question(subject_records=[])]}, "subject_records"),
        ({"questions": [_question(colour="blue")]}, "colour"),
    ],
    ids=["no_questions", "naive_instant", "no_records", "unknown_field"],
)
def test_a_malformed_question_batch_is_a_422_that_does_not_echo_the_input(
    body: dict[str, Any], field: str
) -> None:
    response = Harness().client.post("/v1/decisions", headers=SERVICE, json=body)

    assert response.status_code == 422
    problems = response.json()["detail"]
    assert any(problem["loc"][-1] == field for problem in problems)
    assert all(set(problem) == {"loc", "msg", "type"} for problem in problems)


def test_too_many_questions_in_one_call_are_refused() -> None:
    response = Harness().client.post("/v1/decisions", headers=SERVICE, json={"questions": [_question()] * 51})

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "too-many"


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), (DPO, 403), ({"Authorization": "Bearer cw"}, 403)],
    ids=["no_token", "unknown_token", "dpo", "caseworker"],
)
def test_only_a_service_or_an_admin_may_ask_for_decisions(headers: dict[str, str], code: int) -> None:
    response = Harness().client.post("/v1/decisions", headers=headers, json={"questions": [_question()]})

    assert response.status_code == code


def test_the_trail_lists_what_was_given_and_withdrawn_in_order() -> None:
    harness = Harness(
        [
            statement("withdrawn", version=2, effective_at=day("2026-02-01"), evidence_ref="call-7"),
            statement("given", evidence_ref="form-1"),
            agreement(owners=("council-asc",), recipients=("police",)),
        ]
    )

    response = harness.client.get(
        "/v1/subjects/trail", headers=DPO, params={"record": "council-asc/ASC-0001"}
    )

    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["action"], e["ref"], e["version"]) for e in entries] == [
        ("agreement-registered", "isa-mh-asc", 1),
        ("given", "council-asc/CS-1", 1),
        ("withdrawn", "council-asc/CS-1", 2),
    ]
    assert entries[2]["event"]["kind"] == "withdrawn"
    assert entries[2]["event"]["evidence_ref"] == "call-7"
    assert entries[1]["event"]["captured_by"] == "worker-17"


def test_the_trail_at_an_instant_says_what_applied_then() -> None:
    harness = Harness([statement("given"), statement("withdrawn", version=2, effective_at=day("2026-02-01"))])

    def at(instant: str) -> list[tuple[str, int]]:
        response = harness.client.get(
            "/v1/subjects/trail",
            headers=DPO,
            params={"record": ["council-asc/ASC-0001", "police/PNC-1"], "at": instant},
        )
        assert response.status_code == 200
        return [(s["kind"], s["version"]) for s in response.json()["statements"]]

    assert at("2026-01-15T00:00:00Z") == [("given", 1)]
    assert at("2026-03-01T00:00:00+01:00") == [("withdrawn", 2)]


@pytest.mark.parametrize("value", ["ASC-0001", "Council/ASC-1", "nowhere/ASC-1", "council-asc/"])
def test_a_malformed_or_unknown_record_in_the_trail_query_is_a_422(value: str) -> None:
    response = Harness().client.get("/v1/subjects/trail", headers=DPO, params={"record": value})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "record", 0]


def test_a_service_token_cannot_read_a_trail() -> None:
    response = Harness().client.get(
        "/v1/subjects/trail", headers=SERVICE, params={"record": "council-asc/ASC-0001"}
    )

    assert response.status_code == 403


def test_a_dpo_registers_an_agreement_that_permits_once_consumed() -> None:
    harness = Harness()

    response = harness.client.post(
        "/v1/agreements", headers={**DPO, "X-Correlation-Id": "ticket-42"}, json=_agreement_body()
    )

    assert response.status_code == 202
    assert response.json()["version"] == 1
    ((event, issued),) = harness.publisher.published
    assert response.json()["event_ids"] == [event.event_id]
    assert event.registered_by == "dpo-07"  # type: ignore[union-attr]
    assert issued == Issued(agency="nhs-mh-trust", user="dpo-07", at=NOW, correlation_id="ticket-42")
    harness.consume_published()
    decision = harness.client.post("/v1/decisions", headers=SERVICE, json={"questions": [_question()]})
    assert decision.json()["decisions"][0]["basis_id"] == "isa-mh-asc"


def test_registering_the_same_agreement_version_again_publishes_nothing() -> None:
    harness = Harness()
    harness.client.post("/v1/agreements", headers=DPO, json=_agreement_body())
    harness.consume_published()

    again = harness.client.post("/v1/agreements", headers=DPO, json=_agreement_body())

    assert (again.status_code, again.json()["event_ids"]) == (202, [])
    assert harness.publisher.published == []


def test_the_same_version_with_other_terms_is_a_conflict() -> None:
    harness = Harness()
    harness.client.post("/v1/agreements", headers=DPO, json=_agreement_body())
    harness.consume_published()

    response = harness.client.post(
        "/v1/agreements", headers=DPO, json=_agreement_body(purposes=["safeguarding"])
    )

    assert response.status_code == 409
    assert response.json()["detail"]["reason_code"] == "version-conflict"


def test_an_agreement_the_core_rejects_is_a_422_with_its_reason_code() -> None:
    harness = Harness()

    response = harness.client.post(
        "/v1/agreements", headers=DPO, json=_agreement_body(lawful_basis="consent")
    )

    assert response.status_code == 422
    assert response.json()["detail"] == {
        "reason_code": "lawful-basis-not-allowed",
        "field": "lawful_basis",
        "message": "an agreement cannot rest on 'consent'",
    }
    assert harness.publisher.published == []


def test_a_dpo_cannot_share_another_agencys_data() -> None:
    harness = Harness()

    response = harness.client.post(
        "/v1/agreements", headers={"Authorization": "Bearer dpo-police"}, json=_agreement_body()
    )

    assert response.status_code == 403
    assert harness.publisher.published == []


def test_a_caseworker_cannot_register_an_agreement() -> None:
    response = Harness().client.post(
        "/v1/agreements", headers={"Authorization": "Bearer cw"}, json=_agreement_body()
    )

    assert response.status_code == 403


def test_ending_an_agreement_takes_the_next_version_and_stops_later_decisions() -> None:
    harness = Harness([agreement()])

    response = harness.client.post(
        "/v1/agreements/isa-mh-asc/end",
        headers=DPO,
        json={"ended_at": "2026-02-15T00:00:00Z", "reason": "superseded"},
    )

    assert response.status_code == 202
    assert response.json()["version"] == 2
    harness.consume_published()
    decisions = harness.client.post(
        "/v1/decisions",
        headers=SERVICE,
        json={"questions": [_question(at="2026-02-01T00:00:00Z"), _question(at="2026-03-01T00:00:00Z")]},
    ).json()["decisions"]
    assert [d["permit"] for d in decisions] == [True, False]


def test_ending_an_unknown_agreement_is_a_404() -> None:
    response = Harness().client.post(
        "/v1/agreements/isa-none/end", headers=DPO, json={"ended_at": "2026-02-15T00:00:00Z", "reason": "x"}
    )

    assert response.status_code == 404
    assert response.json()["detail"]["reason_code"] == "unknown-agreement"


def test_a_dpo_cannot_end_another_agencys_agreement() -> None:
    response = Harness([agreement()]).client.post(
        "/v1/agreements/isa-mh-asc/end",
        headers={"Authorization": "Bearer dpo-police"},
        json={"ended_at": "2026-02-15T00:00:00Z", "reason": "x"},
    )

    assert response.status_code == 403


def test_when_publishing_fails_the_dpo_is_told_to_retry() -> None:
    harness = Harness()
    harness.publisher.failing = True

    response = harness.client.post("/v1/agreements", headers=DPO, json=_agreement_body())

    assert response.status_code == 503


def test_health_needs_no_token_and_the_openapi_document_lists_the_routes() -> None:
    client = Harness().client

    assert client.get("/healthz").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/decisions",
        "/v1/subjects/trail",
        "/v1/agreements",
        "/v1/agreements/{agreement_id}/end",
    } <= set(paths)


def test_tokens_load_from_a_yaml_file(tmp_path: Any) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text('tokens:\n  "s3cret": {agency: police, user: dpo-11, role: dpo}\n')

    book = TokenBook.load(path)

    assert book.principal("s3cret") == Principal(agency="police", user="dpo-11", role="dpo")
    assert book.principal("s3cre") is None
    assert TokenBook.load(None).principal("s3cret") is None
