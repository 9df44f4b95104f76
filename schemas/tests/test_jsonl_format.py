"""The JSON-lines intake format: every line is read or reported by number, never half-read."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from joinedup.contract.jsonl import InvalidSubmission, parse_line, parse_lines, submission_model
from joinedup.contract.models.intake import ConsentStatement, ReferralSubmission

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "intake"


def test_a_record_is_named_by_its_short_or_its_full_name() -> None:
    assert submission_model("ReferralSubmission") is ReferralSubmission
    assert submission_model("joinedup.intake.ConsentStatement") is ConsentStatement


def test_a_type_that_is_not_an_intake_record_is_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidSubmission) as caught:
        parse_line('{"type": "ReferralReceived", "referral_ref": "R-1"}', 7)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (7, "type")
    assert "ReferralSubmission" in problem.message


def test_a_line_without_a_type_is_refused() -> None:
    with pytest.raises(InvalidSubmission, match="line 2: type: is required"):
        parse_line('{"referral_ref": "R-1"}', 2)


def test_the_fields_are_everything_but_type_and_envelope() -> None:
    draft = parse_line('{"type": "ReferralWithdrawal", "referral_ref": "R-1", "reason": "moved away"}', 1)
    assert draft.model.__name__ == "ReferralWithdrawal"
    assert dict(draft.fields) == {"referral_ref": "R-1", "reason": "moved away"}
    assert draft.correlation_id is None


def test_an_envelope_may_set_correlation_and_causation_and_nothing_else_is_kept() -> None:
    cause = "3acb140f-aae6-5874-ba5b-146d39efbaf3"
    draft = parse_line(
        '{"type": "ReferralWithdrawal", "referral_ref": "R-1", "reason": "x", "envelope": '
        f'{{"correlation_id": "police/R-1", "causation_id": "{cause}", "event_id": "ignored",'
        ' "source_agency": "police"}}',
        1,
    )
    assert draft.correlation_id == "police/R-1"
    assert draft.causation_id == UUID(cause)
    assert draft.source_agency == "police"
    assert "envelope" not in draft.fields


def test_a_causation_id_that_is_not_a_uuid_is_refused() -> None:
    with pytest.raises(InvalidSubmission, match=r"envelope\.causation_id: must be a UUID"):
        parse_line('{"type": "ReferralWithdrawal", "envelope": {"causation_id": "nope"}}', 1)


def test_every_bad_line_is_reported_with_its_number_and_blank_lines_are_skipped() -> None:
    parsed = parse_lines(
        [
            '{"type":"ReferralWithdrawal","referral_ref":"R1","reason":"x","withdrawn_at":"2026-01-01T00:00Z"}',
            "",
            "not json",
            "[1, 2]",
            '{"type": "Nope"}',
        ]
    )
    assert len(parsed.drafts) == 1
    assert not parsed.ok
    assert [p.line for p in parsed.problems] == [3, 4, 5]
    assert "not valid JSON" in str(parsed.problems[0])
    assert "must be a JSON object" in str(parsed.problems[1])


def test_a_json_error_does_not_repeat_the_line() -> None:
    parsed = parse_lines(['{"type": "ContactRecord", "subject": {"family_name": "Example"'])
    assert "Example" not in str(parsed.problems[0])


def test_the_example_files_parse_cleanly() -> None:
    files = sorted(EXAMPLES.glob("*.jsonl"))
    assert files
    for path in files:
        parsed = parse_lines(path.read_text(encoding="utf-8").splitlines())
        assert parsed.ok, (path.name, parsed.problems)
        assert parsed.drafts
