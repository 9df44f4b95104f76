"""An agency's consent statement: validated with reason codes, deterministic ids, idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.testing import EPOCH, day, scope, statement_command
from joinedup.consent.domain import (
    CommandRejectedError,
    ConsentGiven,
    ConsentState,
    ConsentStatement,
    ObjectionLifted,
    ObjectionRecorded,
    accept_statement,
    parse_command,
)
from joinedup.consent.domain.event_ids import statement_event_id

CODES = known_codes()
NOW = EPOCH + timedelta(hours=1)


def _accept(
    command: ConsentStatement, state: ConsentState | None = None, topic_agency: str = "council-asc"
) -> Any:
    return accept_statement(command, state or ConsentState(), topic_agency=topic_agency, now=NOW, codes=CODES)


def test_a_valid_statement_becomes_its_canonical_event() -> None:
    command = statement_command(covering=scope(recipients=["police"], purposes=["safeguarding"]))

    (event,) = _accept(command)

    assert isinstance(event, ConsentGiven)
    assert event.statement_id == "council-asc/CS-1"
    assert event.effective_at == command.occurred_at
    assert event.scope.recipient_agencies == ("police",)
    assert event.evidence_ref == "form-CS1-scan"


@pytest.mark.parametrize(
    ("kind", "event_type"), [("objection", ObjectionRecorded), ("objection-lifted", ObjectionLifted)]
)
def test_each_kind_becomes_its_own_event_type(kind: str, event_type: type) -> None:
    (event,) = _accept(statement_command(kind))

    assert type(event) is event_type


def test_the_event_id_is_a_uuid5_of_agency_ref_version_and_kind() -> None:
    (event,) = _accept(statement_command("withdrawn", ref="CS-9", version=3))

    assert event.event_id == statement_event_id("council-asc", "CS-9", 3, "withdrawn")
    assert event.event_id != statement_event_id("council-asc", "CS-9", 3, "given")
    assert event.event_id[14] == "5"  # the UUID version digit


def test_the_same_statement_again_yields_no_new_events() -> None:
    command = statement_command()
    state = ConsentState.fold(_accept(command))

    assert _accept(command, state) == ()


def test_the_same_statement_with_its_scope_in_another_order_is_the_same_statement() -> None:
    state = ConsentState.fold(_accept(statement_command(covering=scope(recipients=["police", "probation"]))))

    assert _accept(statement_command(covering=scope(recipients=["probation", "police"])), state) == ()


def test_a_new_version_of_a_recorded_statement_is_accepted() -> None:
    state = ConsentState.fold(_accept(statement_command()))

    (event,) = _accept(statement_command("withdrawn", version=2), state)

    assert event.version == 2


REJECTIONS: dict[str, tuple[dict[str, Any], str, str]] = {
    "another_agency_claims_the_subject_record": (
        {"agency": "police", "source_agency": "council-asc"},
        "forged-agency",
        "subject.agency",
    ),
    "the_envelope_claims_another_source_agency": (
        {"source_agency": "police"},
        "forged-agency",
        "envelope.source_agency",
    ),
    "an_unknown_statement_kind": ({"kind": "maybe"}, "unknown-kind", "kind"),
    "a_version_of_zero": ({"version": 0}, "invalid-version", "version"),
    "an_unknown_recipient_agency": (
        {"covering": scope(recipients=["mi5"])},
        "unknown-agency",
        "scope.recipient_agencies",
    ),
    "an_unknown_owner_agency": (
        {"covering": scope(owners=["mi5"])},
        "unknown-agency",
        "scope.owner_agencies",
    ),
    "an_unknown_purpose": ({"covering": scope(purposes=["marketing"])}, "unknown-purpose", "scope.purposes"),
    "an_unknown_data_category": (
        {"covering": scope(categories=["genome"])},
        "unknown-data-category",
        "scope.data_categories",
    ),
    "valid_until_before_valid_from": (
        {"valid_from": day("2026-03-01"), "valid_until": day("2026-02-01")},
        "invalid-period",
        "valid_until",
    ),
    "an_empty_period": (
        {"valid_from": day("2026-03-01"), "valid_until": day("2026-03-01")},
        "invalid-period",
        "valid_until",
    ),
    "occurred_far_in_the_future": (
        {"occurred_at": NOW + timedelta(minutes=6)},
        "occurred-in-future",
        "envelope.occurred_at",
    ),
    "a_blank_statement_ref": ({"ref": "  "}, "missing-field", "statement_ref"),
    "a_blank_local_person_id": ({"person": ""}, "missing-field", "subject.local_person_id"),
    "a_blank_captured_by": ({"captured_by": ""}, "missing-field", "captured_by"),
}


@pytest.mark.parametrize(("changes", "reason_code", "field"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_an_invalid_statement_is_rejected_with_its_reason(
    changes: dict[str, Any], reason_code: str, field: str
) -> None:
    with pytest.raises(CommandRejectedError) as rejected:
        _accept(statement_command(**changes))

    assert (rejected.value.reason_code, rejected.value.field) == (reason_code, field)
    assert rejected.value.message


def test_a_statement_a_little_in_the_future_is_within_the_clock_skew_tolerance() -> None:
    assert len(_accept(statement_command(occurred_at=NOW + timedelta(minutes=4)))) == 1


def test_a_consent_period_starting_in_the_future_is_accepted() -> None:
    assert len(_accept(statement_command(valid_from=day("2027-01-01")))) == 1


def test_the_same_version_with_different_content_is_a_version_conflict() -> None:
    state = ConsentState.fold(_accept(statement_command()))

    with pytest.raises(CommandRejectedError) as rejected:
        _accept(statement_command(covering=scope(recipients=["police"])), state)

    assert rejected.value.reason_code == "version-conflict"


def test_the_same_version_with_a_different_kind_is_a_version_conflict() -> None:
    state = ConsentState.fold(_accept(statement_command("given")))

    with pytest.raises(CommandRejectedError) as rejected:
        _accept(statement_command("objection"), state)

    assert rejected.value.reason_code == "version-conflict"


def test_a_rejection_message_carries_no_personal_identifier() -> None:
    command = statement_command(agency="police", person="Jane Doe 1980-02-03 9434765919")

    with pytest.raises(CommandRejectedError) as rejected:
        _accept(command)

    assert "Jane" not in str(rejected.value)
    assert "9434765919" not in str(rejected.value)


def _raw_statement() -> dict[str, Any]:
    return statement_command().model_dump(mode="json")


def test_a_decoded_statement_parses_into_the_command() -> None:
    assert parse_command(ConsentStatement, _raw_statement()) == statement_command()


@pytest.mark.parametrize("missing", ["statement_ref", "captured_by", "occurred_at", "valid_from"])
def test_a_decoded_statement_without_a_required_field_is_rejected_as_missing(missing: str) -> None:
    raw = _raw_statement()
    del raw[missing]

    with pytest.raises(CommandRejectedError) as rejected:
        parse_command(ConsentStatement, raw)

    assert (rejected.value.reason_code, rejected.value.field) == ("missing-field", missing)


def test_a_decoded_statement_with_a_malformed_field_is_rejected_without_echoing_the_value() -> None:
    raw = _raw_statement()
    raw["occurred_at"] = "Jane Doe's birthday"

    with pytest.raises(CommandRejectedError) as rejected:
        parse_command(ConsentStatement, raw)

    assert (rejected.value.reason_code, rejected.value.field) == ("invalid-field", "occurred_at")
    assert "Jane" not in str(rejected.value)


def test_a_naive_timestamp_is_rejected() -> None:
    raw = _raw_statement()
    raw["valid_from"] = "2026-01-01T00:00:00"

    with pytest.raises(CommandRejectedError) as rejected:
        parse_command(ConsentStatement, raw)

    assert rejected.value.field == "valid_from"


def test_the_event_gives_back_the_agencys_own_statement_ref_for_the_avro_record() -> None:
    (event,) = _accept(statement_command(ref="2026/CS/0042"))

    assert (event.statement_id, event.statement_ref) == ("council-asc/2026/CS/0042", "2026/CS/0042")
