"""Tokens (401), roles (403), DPO-only endpoints, and input validation (422 without echoing the input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from joinedup.projections.api.auth import TokenBook, UnknownAgencyInTokensError

# ------------------------------------------------------------------------------------------------ 401 / 403


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nope", "Basic Y3ctYXNjOg==", "Bearer "],
    ids=["none", "unknown", "basic", "empty"],
)
def test_a_request_without_a_valid_bearer_token_is_a_401_and_is_not_a_read(
    api: Any, authorization: str | None
) -> None:
    sent = {"X-Purpose": "care-coordination"}
    if authorization is not None:
        sent["Authorization"] = authorization
    response = api.client.get("/v1/persons/p-1", headers=sent)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "p-1" not in response.text
    assert api.audit.all == ()


def test_the_dpo_endpoints_refuse_caseworkers(api: Any) -> None:
    for path in ["/v1/audit/access", "/v1/persons/p-1/consent-trail"]:
        response = api.client.get(path, headers=api.headers("cw-asc"))
        assert response.status_code == 403, path
    assert api.trail.asked == []


def test_an_admin_reads_no_personal_data(api: Any) -> None:
    assert api.client.get("/v1/persons/p-1", headers=api.headers("admin")).status_code == 403
    assert api.client.get("/v1/audit/access", headers=api.headers("admin")).status_code == 403


def test_healthz_needs_no_token(api: Any) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}


def test_the_openapi_document_lists_every_endpoint(api: Any) -> None:
    paths = set(api.client.get("/openapi.json").json()["paths"])
    assert {
        "/v1/persons",
        "/v1/persons/{person_id}",
        "/v1/persons/{person_id}/timeline",
        "/v1/records/{agency}/{local_person_id}",
        "/v1/audit/access",
        "/v1/persons/{person_id}/consent-trail",
        "/healthz",
    } <= paths
    assert api.client.get("/docs").status_code == 200


def test_tokens_load_from_yaml_and_name_known_agencies(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text('tokens:\n  "s3cret": {agency: police, user: cw-1, role: caseworker}\n')
    book = TokenBook.load(path, agencies=frozenset({"police"}))
    found = book.principal("s3cret")
    assert found is not None
    assert (found.agency, found.user, found.role) == ("police", "cw-1", "caseworker")
    assert book.principal("s3cre") is None
    with pytest.raises(UnknownAgencyInTokensError):
        TokenBook.load(path, agencies=frozenset({"council-asc"}))


# ------------------------------------------------------------------------------------------------ DPO


def test_a_dpo_reads_the_access_audit_filtered_by_person_and_agency(api: Any) -> None:
    api.client.get("/v1/persons/p-1", headers=api.headers("cw-asc"))
    api.client.get("/v1/persons/p-1", headers=api.headers("cw-police"))
    api.client.get("/v1/persons/p-2", headers=api.headers("cw-police"))
    response = api.client.get(
        "/v1/audit/access", params={"person_id": "p-1", "agency": "police"}, headers=api.headers("dpo-asc")
    )
    assert response.status_code == 200
    records = response.json()["records"]
    assert [(r["agency"], r["person_id"], r["sequence"]) for r in records] == [("police", "p-1", 1)]
    assert len(records[0]["hash"]) == len(records[0]["prev_hash"]) == 64
    assert api.audit.all[-1].request == "GET /v1/audit/access"
    assert api.audit.all[-1].user_id == "dpo-01"


def test_the_audit_query_takes_an_iso_time_window(api: Any) -> None:
    api.client.get("/v1/persons/p-1", headers=api.headers())
    inside = api.client.get(
        "/v1/audit/access",
        params={"from": "2026-03-10T00:00:00Z", "to": "2026-03-11T00:00:00Z"},
        headers=api.headers("dpo-asc"),
    )
    outside = api.client.get(
        "/v1/audit/access", params={"from": "2026-03-11T00:00:00+00:00"}, headers=api.headers("dpo-asc")
    )
    assert len(inside.json()["records"]) == 1
    assert outside.json()["records"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"from": "2026-03-11T00:00:00Z", "to": "2026-03-10T00:00:00Z"},
        {"agency": "Police!"},
    ],
    ids=["not-iso", "backwards", "bad-agency"],
)
def test_a_malformed_audit_query_is_a_422(api: Any, params: dict[str, str]) -> None:
    response = api.client.get("/v1/audit/access", params=params, headers=api.headers("dpo-asc"))
    assert response.status_code == 422


def test_a_dpo_reads_a_persons_consent_trail_for_all_their_records(api: Any) -> None:
    response = api.client.get("/v1/persons/p-1/consent-trail", headers=api.headers("dpo-asc"))
    assert response.status_code == 200
    body = response.json()
    assert body["person_id"] == "p-1"
    assert body["trail"]["entries"][0]["ref"] == "st-1"
    assert api.trail.asked == [
        ["council-asc/council-asc-local", "nhs-mh-trust/nhs-mh-trust-local", "police/police-local"]
    ]
    record = api.audit.all[-1]
    assert (record.request, record.person_id, record.outcome) == (
        "GET /v1/persons/{person_id}/consent-trail",
        "p-1",
        "disclosed",
    )


def test_the_consent_trail_of_an_unknown_person_is_a_404_and_a_silent_consent_service_a_502(api: Any) -> None:
    assert (
        api.client.get("/v1/persons/p-404/consent-trail", headers=api.headers("dpo-asc")).status_code == 404
    )
    api.trail.failing = True
    assert api.client.get("/v1/persons/p-1/consent-trail", headers=api.headers("dpo-asc")).status_code == 502
    assert [r.outcome for r in api.audit.all] == ["not-found", "withheld"]


# ------------------------------------------------------------------------------------------------ 422


def problems_of(response: Any) -> list[tuple[str, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(str(p) for p in problem["loc"]) for problem in response.json()["detail"]]


@pytest.mark.parametrize("purpose", [None, "curiosity"], ids=["missing", "unknown"])
def test_a_read_must_state_a_known_purpose(api: Any, purpose: str | None) -> None:
    response = api.client.get("/v1/persons/p-1", headers=api.headers(purpose=purpose))
    assert problems_of(response) == [("header", "X-Purpose")]
    assert api.audit.all == ()


@pytest.mark.parametrize("justification", ["too short", "x" * 501, "line\nbreak is not allowed here"])
def test_a_break_glass_justification_is_10_to_500_printable_characters(api: Any, justification: str) -> None:
    response = api.client.get("/v1/persons/p-1", headers=api.headers(**{"X-Break-Glass": justification}))
    assert problems_of(response) == [("header", "X-Break-Glass")]
    assert api.decisions.batches == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"nhs_number": "12345"}, "nhs_number"),
        ({"nhs_number": "9434765918"}, "nhs_number"),
        ({"ni_number": "QQ123456Z"}, "ni_number"),
        ({"family_name": "Smith", "date_of_birth": "02/01/1990"}, "date_of_birth"),
        ({"family_name": "Smith", "date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"family_name": "Sm1th", "given_name": "Ada"}, "family_name"),
        ({"family_name": "x" * 101, "given_name": "Ada"}, "family_name"),
        ({"family_name": "Smith", "postcode": "NOT A CODE"}, "postcode"),
    ],
    ids=[
        "nhs-short",
        "nhs-check-digit",
        "ni",
        "dob-format",
        "dob-calendar",
        "name-digits",
        "name-long",
        "postcode",
    ],
)
def test_malformed_search_parameters_are_422s_naming_the_parameter_without_its_value(
    api: Any, params: dict[str, str], field: str
) -> None:
    response = api.client.get("/v1/persons", params=params, headers=api.headers())
    assert any(field in loc for loc in problems_of(response))
    for value in params.values():
        assert value not in response.text
    assert api.reader.searches == []
    assert api.audit.all == ()


@pytest.mark.parametrize(
    "params",
    [{}, {"family_name": "Smith"}, {"given_name": "Ada", "postcode": "SW1A 1AA"}],
    ids=["none", "surname", "no-surname"],
)
def test_a_search_must_be_specific_enough_to_single_a_person_out(api: Any, params: dict[str, str]) -> None:
    response = api.client.get("/v1/persons", params=params, headers=api.headers())
    assert response.status_code == 422
    assert api.reader.searches == []


def test_an_unknown_search_parameter_is_a_422(api: Any) -> None:
    response = api.client.get(
        "/v1/persons", params={"nhs_number": "9434765919", "surname": "x"}, headers=api.headers()
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "path", ["/v1/persons/p%20one", "/v1/persons/" + "p" * 101, "/v1/records/council-asc/%00x"]
)
def test_malformed_ids_in_the_path_are_422s(api: Any, path: str) -> None:
    assert api.client.get(path, headers=api.headers()).status_code == 422
    assert api.audit.all == ()
