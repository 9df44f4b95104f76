"""The person view, timeline, search and record endpoints: enforcement, uniform 404s, break-glass, failing
closed, and an audit record for every read."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from joinedup.contract.models.audit import AccessRecorded


def audit_of(api: Any) -> list[AccessRecorded]:
    return list(api.audit.all)


# ------------------------------------------------------------------------------------------------ 404s


def test_an_unknown_person_and_a_person_without_any_basis_get_the_same_404(api: Any) -> None:
    unknown = api.client.get("/v1/persons/p-404", headers=api.headers())
    no_basis = api.client.get("/v1/persons/p-2", headers=api.headers())
    assert unknown.status_code == no_basis.status_code == 404
    assert unknown.content == no_basis.content
    assert unknown.json() == {"detail": "not found"}

    def comparable(response: httpx.Response) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k != "x-request-id"}

    assert comparable(unknown) == comparable(no_basis)


def test_both_kinds_of_404_are_audited(api: Any) -> None:
    api.client.get("/v1/persons/p-404", headers=api.headers())
    api.client.get("/v1/persons/p-2", headers=api.headers())
    records = audit_of(api)
    assert [(r.person_id, r.outcome) for r in records] == [("p-404", "not-found"), ("p-2", "denied")]
    assert all(r.request == "GET /v1/persons/{person_id}" for r in records)
    assert all(r.disclosed == () for r in records)


def test_the_timeline_of_a_person_without_basis_is_the_same_404(api: Any) -> None:
    unknown = api.client.get("/v1/persons/p-404/timeline", headers=api.headers())
    no_basis = api.client.get("/v1/persons/p-2/timeline", headers=api.headers())
    assert unknown.status_code == no_basis.status_code == 404
    assert unknown.content == no_basis.content
    assert [r.outcome for r in audit_of(api)] == ["not-found", "denied"]


# ------------------------------------------------------------------------------------------------ enforcement


def test_own_agency_items_are_visible_and_other_agencies_items_are_only_counted(api: Any) -> None:
    response = api.client.get("/v1/persons/p-1", headers=api.headers())
    assert response.status_code == 200
    body = response.json()
    assert [i["item_id"] for i in body["items"]] == ["referral:council-asc/ASC-1"]
    assert body["items"][0]["bases"] == [
        {"category": "social-care", "kind": "own-record", "code": "own-record", "ref": None}
    ]
    assert body["withheld"] == 3
    assert body["records"] == [{"agency": "council-asc", "local_person_id": "council-asc-local"}]
    record = audit_of(api)[0]
    assert record.outcome == "withheld"
    assert record.withheld_count == 3
    assert {d.item_ref for d in record.disclosed} == {
        "record:council-asc/council-asc-local",
        "referral:council-asc/ASC-1",
    }


def test_an_agreement_for_the_purpose_discloses_the_items_it_covers_with_their_basis(api: Any) -> None:
    api.allow("police", "council-asc", "care-coordination", "criminal-justice")
    body = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert [i["item_id"] for i in body["items"]] == [
        "referral:council-asc/ASC-1",
        "contact:police/CAD-9",
        "contact:police/CAD-10",
    ]
    police = body["items"][1]
    assert police["agency"] == "police"
    assert police["bases"] == [
        {"category": "criminal-justice", "kind": "agreement", "code": "public-task", "ref": "isa-7"}
    ]
    assert body["withheld"] == 1
    assert {r["agency"] for r in body["records"]} == {"council-asc", "police"}
    disclosed = {(d.item_ref, d.basis, d.basis_ref) for d in audit_of(api)[0].disclosed}
    assert ("contact:police/CAD-9", "public-task", "isa-7") in disclosed
    assert ("record:police/police-local", "public-task", "isa-7") in disclosed


def test_the_same_agreement_for_another_purpose_discloses_nothing(api: Any) -> None:
    api.allow("police", "council-asc", "care-coordination", "criminal-justice")
    body = api.client.get("/v1/persons/p-1", headers=api.headers(purpose="housing-support")).json()
    assert [i["agency"] for i in body["items"]] == ["council-asc"]
    assert body["withheld"] == 3


def test_an_item_is_disclosed_only_when_every_category_it_carries_is_permitted(api: Any) -> None:
    api.allow("nhs-mh-trust", "council-asc", "care-coordination", "mental-health")
    partial = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert "assessment:nhs-mh-trust/MH-3" not in [i["item_id"] for i in partial["items"]]
    api.allow("nhs-mh-trust", "council-asc", "care-coordination", "health")
    full = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assessment = next(i for i in full["items"] if i["item_id"] == "assessment:nhs-mh-trust/MH-3")
    assert [b["category"] for b in assessment["bases"]] == ["health", "mental-health"]
    assert full["withheld"] == partial["withheld"] - 1


def test_a_person_known_only_through_permitted_items_is_visible_to_another_agency(api: Any) -> None:
    api.allow("police", "council-housing", "housing-support", "criminal-justice")
    body = api.client.get("/v1/persons/p-2", headers=api.headers("cw-housing", "housing-support")).json()
    assert body["person_id"] == "p-2"
    assert [i["item_id"] for i in body["items"]] == ["contact:police/CAD-77"]
    assert body["records"] == [{"agency": "police", "local_person_id": "POL-2"}]
    assert audit_of(api)[0].outcome == "disclosed"


def test_decisions_are_asked_in_one_batch_per_request_one_question_per_owner_and_category(
    api: Any, build: Any
) -> None:
    api.client.get("/v1/persons/p-1", headers=api.headers())
    assert len(api.decisions.batches) == 1
    batch = api.decisions.batches[0]
    assert [(q.owner, q.category) for q in batch] == [
        ("nhs-mh-trust", "health"),
        ("nhs-mh-trust", "mental-health"),
        ("police", "criminal-justice"),
    ]
    question = batch[0]
    assert question.recipient == "council-asc"
    assert question.purpose == "care-coordination"
    assert question.at == build.NOW
    assert [(r.agency, r.local_person_id) for r in question.subject_records] == [
        ("council-asc", "council-asc-local"),
        ("nhs-mh-trust", "nhs-mh-trust-local"),
        ("police", "police-local"),
    ]
    assert question.break_glass_justification is None


def test_a_caller_whose_own_agency_holds_every_item_asks_no_question(make_api: Any, build: Any) -> None:
    api = make_api([build.person_two()])
    response = api.client.get("/v1/persons/p-2", headers=api.headers("cw-police"))
    assert response.status_code == 200
    assert api.decisions.batches == []


def test_alerts_addressed_to_the_callers_agency_show_only_the_earlier_items_it_may_see(api: Any) -> None:
    body = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert [a["alert_id"] for a in body["alerts"]] == ["alert-1"]
    assert body["alerts"][0]["earlier_item_ids"] == []
    assert body["alerts"][0]["earlier_withheld"] == 1
    api.allow("nhs-mh-trust", "council-asc", "care-coordination", "mental-health")
    api.allow("nhs-mh-trust", "council-asc", "care-coordination", "health")
    body = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert body["alerts"][0]["earlier_item_ids"] == ["assessment:nhs-mh-trust/MH-3"]
    assert body["alerts"][0]["earlier_withheld"] == 0


def test_the_view_shows_records_by_reference_only(api: Any, build: Any) -> None:
    text = api.client.get("/v1/persons/p-1", headers=api.headers()).text
    assert build.NHS not in text
    assert build.FAMILY_NAME not in text


def test_an_absorbed_person_id_resolves_to_the_survivor(make_api: Any, build: Any) -> None:
    api = make_api([build.person_one()], aliases={"p-old": "p-1"})
    body = api.client.get("/v1/persons/p-old", headers=api.headers()).json()
    assert body["person_id"] == "p-1"
    assert audit_of(api)[0].person_id == "p-1"


# ------------------------------------------------------------------------------------------------ timeline


def test_the_timeline_lists_every_status_change_of_the_visible_items_oldest_first(api: Any) -> None:
    api.allow("police", "council-asc", "care-coordination", "criminal-justice")
    body = api.client.get("/v1/persons/p-1/timeline", headers=api.headers()).json()
    entries = [(e["item_id"], e["status"], e["event_id"]) for e in body["entries"]]
    assert entries == [
        ("referral:council-asc/ASC-1", "received", "ev-council-asc-ASC-1-0"),
        ("referral:council-asc/ASC-1", "accepted", "ev-council-asc-ASC-1-1"),
        ("contact:police/CAD-9", "recorded", "ev-police-CAD-9-0"),
        ("contact:police/CAD-10", "recorded", "ev-police-CAD-10-0"),
    ]
    assert body["withheld"] == 1
    assert audit_of(api)[0].request == "GET /v1/persons/{person_id}/timeline"


# ------------------------------------------------------------------------------------------------ break-glass


def test_break_glass_discloses_with_basis_break_glass_and_marks_response_audit_and_log(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    justification = "Imminent risk to life reported by ambulance crew"
    with caplog.at_level(logging.INFO):
        response = api.client.get("/v1/persons/p-1", headers=api.headers(**{"X-Break-Glass": justification}))
    body = response.json()
    assert body["break_glass"] is True
    assert body["withheld"] == 0
    police = next(i for i in body["items"] if i["agency"] == "police")
    assert police["bases"][0]["kind"] == "break_glass"
    assert police["bases"][0]["code"] == "break-glass"
    assert all(q.break_glass_justification == justification for q in api.decisions.batches[0])
    record = audit_of(api)[0]
    assert record.break_glass is True
    assert record.break_glass_justification == justification
    assert any(d.basis == "break-glass" for d in record.disclosed)
    review = [r for r in caplog.records if "break-glass" in r.getMessage()]
    assert len(review) == 1
    assert justification not in caplog.text


def test_a_read_without_break_glass_is_not_marked(api: Any) -> None:
    body = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert body["break_glass"] is False
    record = audit_of(api)[0]
    assert record.break_glass is False
    assert record.break_glass_justification is None


# ------------------------------------------------------------------------------------------------ fail closed


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("too slow"), ConnectionError("refused"), RuntimeError("bug")], ids=repr
)
def test_when_the_decision_point_fails_other_agencies_items_are_withheld(api: Any, error: Exception) -> None:
    api.allow("police", "council-asc", "care-coordination", "criminal-justice")
    api.decisions.error = error
    body = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert [i["agency"] for i in body["items"]] == ["council-asc"]
    assert body["withheld"] == 3


def test_when_the_decision_point_fails_a_person_known_only_elsewhere_is_a_404(api: Any) -> None:
    api.allow("police", "council-asc", "care-coordination", "criminal-justice")
    api.decisions.error = httpx.ConnectTimeout("down")
    response = api.client.get("/v1/persons/p-2", headers=api.headers())
    assert response.status_code == 404
    assert audit_of(api)[0].outcome == "denied"


def test_missing_answers_deny(api: Any) -> None:
    api.allow("police", "council-asc", "care-coordination", "criminal-justice")
    api.decisions.decide = lambda questions: []
    body = api.client.get("/v1/persons/p-1", headers=api.headers()).json()
    assert body["withheld"] == 3


# -------------------------------------------------------------------------------------------- audit failure


@pytest.mark.parametrize("path", ["/v1/persons/p-1", "/v1/persons/p-404", "/v1/persons/p-1/timeline"])
def test_when_the_audit_cannot_record_the_read_the_request_fails_and_discloses_nothing(
    api: Any, build: Any, path: str
) -> None:
    api.audit.failing = True
    response = api.client.get(path, headers=api.headers())
    assert response.status_code == 503
    assert response.json() == {"detail": "the access could not be audited; retry"}
    assert "ASC-1" not in response.text
    assert audit_of(api) == []


def test_a_search_whose_audit_fails_returns_no_persons(api: Any, build: Any) -> None:
    api.audit.failing = True
    response = api.client.get("/v1/persons", params={"nhs_number": build.NHS}, headers=api.headers())
    assert response.status_code == 503
    assert "p-1" not in response.text


# ------------------------------------------------------------------------------------------------ search


def test_a_search_returns_only_persons_the_caller_has_a_basis_for_and_audits_each(
    api: Any, build: Any
) -> None:
    response = api.client.get(
        "/v1/persons", params={"family_name": build.FAMILY_NAME, "given_name": "Ada"}, headers=api.headers()
    )
    assert response.status_code == 200
    assert response.json()["persons"] == [
        {"person_id": "p-1", "records": [{"agency": "council-asc", "local_person_id": "council-asc-local"}]}
    ]
    assert len(api.decisions.batches) == 1
    records = audit_of(api)
    assert [(r.person_id, r.outcome) for r in records] == [("p-1", "disclosed"), ("p-2", "denied")]
    assert all(r.request == "GET /v1/persons" for r in records)
    assert build.FAMILY_NAME not in " ".join(r.model_dump_json() for r in records)


def test_a_search_that_matches_nobody_is_audited_without_a_person(api: Any) -> None:
    response = api.client.get("/v1/persons", params={"nhs_number": "401 023 2137"}, headers=api.headers())
    assert response.status_code == 200
    assert response.json()["persons"] == []
    assert [(r.person_id, r.outcome) for r in audit_of(api)] == [(None, "not-found")]


def test_search_parameters_reach_the_read_model_normalised(api: Any) -> None:
    api.client.get(
        "/v1/persons",
        params={"family_name": "  Okonkwo-Smythe ", "date_of_birth": "1990-01-02", "postcode": "sw1a1aa"},
        headers=api.headers(),
    )
    search = api.reader.searches[0]
    assert search.family_name == "Okonkwo-Smythe"
    assert search.date_of_birth.isoformat() == "1990-01-02"
    assert search.postcode == "SW1A 1AA"


def test_no_personal_data_reaches_the_logs(api: Any, build: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        api.client.get("/v1/persons", params={"nhs_number": build.NHS}, headers=api.headers())
        api.client.get(
            "/v1/persons",
            params={"family_name": build.FAMILY_NAME, "given_name": "Ada"},
            headers=api.headers(),
        )
        api.client.get("/v1/persons/p-1", headers=api.headers())
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "request_id=" in server_side
    assert build.NHS not in server_side
    assert build.FAMILY_NAME not in server_side
    assert "Ada" not in server_side


def test_the_access_log_of_the_server_drops_query_strings(api: Any, build: Any) -> None:
    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/v1/persons?nhs_number={build.NHS}", "1.1", 200),
        None,
    )
    for handler_filter in access.filters:
        handler_filter.filter(record)
    assert build.NHS not in record.getMessage()
    assert "/v1/persons?" in record.getMessage()


# ------------------------------------------------------------------------------------------------ records


def test_a_caseworker_finds_the_person_of_its_own_agencys_record(api: Any) -> None:
    response = api.client.get("/v1/records/council-asc/council-asc-local", headers=api.headers())
    assert response.status_code == 200
    assert response.json() == {
        "person_id": "p-1",
        "record": {"agency": "council-asc", "local_person_id": "council-asc-local"},
    }
    record = audit_of(api)[0]
    assert (record.person_id, record.outcome) == ("p-1", "disclosed")
    assert record.request == "GET /v1/records/{agency}/{local_person_id}"


def test_another_agencys_record_is_a_404_like_an_unknown_one_and_both_are_audited(api: Any) -> None:
    other = api.client.get("/v1/records/police/police-local", headers=api.headers())
    unknown = api.client.get("/v1/records/council-asc/nobody", headers=api.headers())
    assert other.status_code == unknown.status_code == 404
    assert other.content == unknown.content
    assert [r.outcome for r in audit_of(api)] == ["denied", "not-found"]
    assert api.reader.person_of_record("police", "police-local") == "p-1"


def stages_of(server_timing: str) -> list[str]:
    return [entry.split(";")[0].strip() for entry in server_timing.split(",")]


def test_a_person_read_reports_the_time_of_each_stage_in_server_timing_but_a_404_does_not(api: Any) -> None:
    found = api.client.get("/v1/persons/p-1", headers=api.headers())
    unknown = api.client.get("/v1/persons/p-404", headers=api.headers())
    no_basis = api.client.get("/v1/persons/p-2", headers=api.headers())
    assert found.status_code == 200
    assert stages_of(found.headers["Server-Timing"]) == ["view", "decide", "audit"]
    assert "Server-Timing" not in unknown.headers
    assert "Server-Timing" not in no_basis.headers
    assert all(float(e.split("dur=")[1]) >= 0 for e in found.headers["Server-Timing"].split(","))
    assert "Server-Timing" not in api.client.get("/healthz").headers
