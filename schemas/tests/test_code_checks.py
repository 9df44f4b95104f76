"""Codes are strings on the wire; unknown ones are found here with the field that carries them."""

from __future__ import annotations

from joinedup.contract.code_checks import UnknownCode, unknown_codes
from joinedup.contract.examples import all_examples, example, referral_submission
from joinedup.contract.models.intake import ConsentStatement
from joinedup.contract.models.shared_records import ConsentScope


def test_the_examples_carry_only_known_codes() -> None:
    for record in all_examples():
        assert unknown_codes(record) == [], record.avro_name


def test_an_unknown_agency_is_reported_with_its_field_and_vocabulary() -> None:
    record = referral_submission().model_copy(update={"to_agency": "mi5"})
    assert unknown_codes(record) == [UnknownCode("to_agency", "mi5", "agencies")]


def test_every_bad_item_of_a_code_array_is_reported_with_its_index() -> None:
    record = referral_submission().model_copy(update={"need_codes": ("accommodation", "vibes", "nope")})
    assert [(p.field, p.code) for p in unknown_codes(record)] == [
        ("need_codes[1]", "vibes"),
        ("need_codes[2]", "nope"),
    ]


def test_codes_inside_nested_records_are_checked() -> None:
    statement = example(ConsentStatement)
    scope = ConsentScope(purposes=("direct-care", "marketing"))
    found = unknown_codes(statement.model_copy(update={"scope": scope}))
    assert [(p.field, p.vocabulary) for p in found] == [("scope.purposes[1]", "purposes")]


def test_a_value_outside_the_schemas_allowed_list_is_reported() -> None:
    record = referral_submission().model_copy(update={"urgency": "whenever"})
    (problem,) = unknown_codes(record)
    assert problem.vocabulary is None
    assert problem.allowed == ("routine", "urgent", "emergency")
    assert problem.describe() == "urgency must be one of: routine, urgent, emergency"


def test_the_description_of_an_unknown_code_does_not_repeat_the_value() -> None:
    record = referral_submission().model_copy(update={"to_agency": "Jordan Example"})
    (problem,) = unknown_codes(record)
    assert "Jordan" not in problem.describe()


def test_an_absent_optional_code_is_not_a_problem() -> None:
    record = referral_submission().model_copy(update={"requested_assessment_type": None})
    assert unknown_codes(record) == []
