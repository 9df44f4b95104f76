"""The SDK's builder: nothing invalid gets an envelope, and the envelope it fills is deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from joinedup.contract.envelope import cloudevents_headers
from joinedup.contract.examples import referral_submission
from joinedup.contract.jsonl import InvalidSubmission, parse_lines
from joinedup.contract.keys import intake_key
from joinedup.contract.models.intake import ReferralResponse, ReferralSubmission
from joinedup.contract.sdk import SubmissionBuilder, submission_event_id
from joinedup.contract.serde import Codec

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "intake"


def builder(agency: str = "police", now: datetime = NOW) -> SubmissionBuilder:
    return SubmissionBuilder(agency, clock=lambda: now)


def submission(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "ReferralSubmission",
        "referral_ref": "POL-1",
        "subject": {"local_person_id": "P-1", "nhs_number": "943 476 5919"},
        "to_agency": "council-housing",
        "need_codes": ["accommodation"],
        "urgency": "urgent",
        "referred_at": "2026-03-02T09:30:15+00:00",
        "data_categories": ["identity", "housing"],
    }
    data.update(changes)
    return data


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidSubmission) as caught:
        builder().build(data)
    return {p.field: p.message for p in caught.value.problems}


def test_the_envelope_is_filled_from_the_agency_the_record_and_the_clock(codec: Codec) -> None:
    record = builder().build(submission())
    assert isinstance(record, ReferralSubmission)
    envelope = record.envelope
    assert envelope.source_agency == "police"
    assert envelope.event_type == "ReferralSubmission"
    assert envelope.occurred_at == record.referred_at
    assert envelope.recorded_at == NOW
    assert envelope.correlation_id == str(envelope.event_id)
    assert envelope.causation_id is None
    assert envelope.subject is not None
    assert (envelope.subject.agency, envelope.subject.local_person_id) == ("police", "P-1")
    assert envelope.schema_fingerprint == codec.contract.fingerprint_hex(ReferralSubmission)
    assert codec.decode(codec.encode(record)) == record


def test_the_same_submission_built_again_later_keeps_its_event_id() -> None:
    first = builder(now=NOW).build(submission())
    later = builder(now=NOW + timedelta(days=2)).build(submission())
    assert first.envelope.event_id == later.envelope.event_id
    assert first.envelope.recorded_at != later.envelope.recorded_at


def test_the_same_instant_written_with_another_offset_keeps_the_event_id() -> None:
    utc = builder().build(submission())
    plus_one = builder().build(submission(referred_at="2026-03-02T10:30:15+01:00"))
    assert utc.envelope.event_id == plus_one.envelope.event_id


def test_different_content_or_another_agency_gives_another_event_id() -> None:
    base = builder().build(submission()).envelope.event_id
    assert builder().build(submission(urgency="routine")).envelope.event_id != base
    assert builder("probation").build(submission()).envelope.event_id != base


def test_a_given_correlation_id_is_kept() -> None:
    record = builder().build(submission(envelope={"correlation_id": "police/POL-1"}))
    assert record.envelope.correlation_id == "police/POL-1"


def test_a_model_instance_gets_a_fresh_envelope_but_keeps_its_correlation() -> None:
    example = referral_submission()
    record = builder().build(example)
    assert record.envelope.correlation_id == example.envelope.correlation_id
    assert record.envelope.event_id == submission_event_id(example, "police")
    assert record.model_dump(exclude={"envelope"}) == example.model_dump(exclude={"envelope"})


def test_a_response_has_no_subject_and_occurred_when_it_was_given() -> None:
    record = builder("council-housing").build(
        {
            "type": "ReferralResponse",
            "referral_ref": "POL-1",
            "referring_agency": "police",
            "action": "accept",
            "responded_at": "2026-03-02T14:05:00Z",
        }
    )
    assert isinstance(record, ReferralResponse)
    assert record.envelope.subject is None
    assert record.envelope.occurred_at == datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    assert intake_key(record, "council-housing") == "police/POL-1"


def test_an_unknown_code_is_refused_naming_the_field() -> None:
    found = problems_of(submission(to_agency="council-nowhere", need_codes=["accommodation", "zzz"]))
    assert found == {
        "to_agency": "is not a code of the agencies vocabulary",
        "need_codes[1]": "is not a code of the need_codes vocabulary",
    }


def test_a_value_outside_the_allowed_list_is_refused() -> None:
    assert problems_of(submission(urgency="whenever")) == {
        "urgency": "must be one of: routine, urgent, emergency"
    }


def test_a_missing_field_an_extra_field_and_a_naive_time_are_each_named() -> None:
    data = submission(referred_at="2026-03-02T09:30:15", colour="blue")
    del data["urgency"]
    found = problems_of(data)
    assert set(found) == {"urgency", "referred_at", "colour"}


def test_a_field_inside_a_list_is_named_by_its_index() -> None:
    found = problems_of(
        submission(subject={"local_person_id": "P-1", "other_identifiers": [{"scheme": "x"}]})
    )
    assert set(found) == {"subject.other_identifiers[0].value"}


def test_an_invalid_nhs_or_ni_number_is_refused_without_repeating_it() -> None:
    data = submission(
        subject={"local_person_id": "P-1", "nhs_number": "943 476 5918", "ni_number": "QQ123456Z"}
    )
    with pytest.raises(InvalidSubmission) as caught:
        builder().build(data)
    assert {p.field for p in caught.value.problems} == {"subject.nhs_number", "subject.ni_number"}
    assert "5918" not in str(caught.value)
    assert "QQ123456Z" not in str(caught.value)


def test_claiming_to_be_another_agency_is_refused() -> None:
    found = problems_of(submission(envelope={"source_agency": "council-asc"}))
    assert found == {"envelope.source_agency": "must be the publishing agency (police)"}


def test_an_unknown_publishing_agency_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not an agency"):
        SubmissionBuilder("the-moon")


def test_build_all_reports_every_bad_line_and_builds_nothing() -> None:
    parsed = parse_lines(
        [
            '{"type":"ReferralWithdrawal","referral_ref":"R1","reason":"x","withdrawn_at":"2026-01-01T00:00Z"}',
            '{"type": "ReferralWithdrawal", "referral_ref": "R-2", "withdrawn_at": "2026-01-01T00:00Z"}',
            '{"type": "ReferralWithdrawal", "referral_ref": "R-3", "reason": "x", "withdrawn_at": "today"}',
        ]
    )
    with pytest.raises(InvalidSubmission) as caught:
        builder().build_all(parsed.drafts)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "reason"), (3, "withdrawn_at")]
    assert "line 2: reason: Field required" in str(caught.value)


def test_the_example_files_build_for_their_agencies() -> None:
    for path in sorted(EXAMPLES.glob("*.jsonl")):
        parsed = parse_lines(path.read_text(encoding="utf-8").splitlines())
        built = builder(path.stem).build_all(parsed.drafts)
        assert len(built) == len(parsed.drafts)


def test_cloudevents_headers_come_from_the_envelope() -> None:
    record = builder().build(submission(referred_at="2026-03-02T10:30:15+01:00"))
    headers = dict(cloudevents_headers(record))
    assert headers["ce_id"] == str(record.envelope.event_id).encode()
    assert headers["ce_type"] == b"joinedup.intake.ReferralSubmission"
    assert headers["ce_source"] == b"police"
    assert headers["ce_subject"] == b"police/P-1"
    assert headers["ce_time"] == b"2026-03-02T09:30:15+00:00"
    assert headers["content-type"] == b"application/avro"


def test_times_keep_their_instant_whatever_the_offset() -> None:
    record = builder().build(submission(referred_at="2026-03-02T10:30:15+01:00"))
    assert isinstance(record, ReferralSubmission)
    assert record.referred_at == datetime(2026, 3, 2, 10, 30, 15, tzinfo=timezone(timedelta(hours=1)))
    assert record.envelope.occurred_at == datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
