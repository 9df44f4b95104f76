"""Every rejection reason, from a submission that earns it to the receipt that reports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.handlers import handle_record
from joinedup.referral.app.ports import Coordinates
from joinedup.referral.app.reference import default_reference_data
from joinedup.referral.app.testing import (
    EARLIER,
    NOW,
    RECEIVER,
    REFERRER,
    VALID_NHS_NUMBER,
    VALID_NI_NUMBER,
    Scenario,
    a_contact,
    a_person,
    a_referral,
    a_response,
    a_withdrawal,
    an_assessment,
)
from joinedup.referral.domain.errors import REJECTIONS
from joinedup.referral.domain.submissions import Submission

DOC = Path(__file__).resolve().parents[4] / "docs" / "referral-reason-codes.md"
ACCEPTED = ((REFERRER, a_referral()), (RECEIVER, a_response("accept")))


@dataclass(frozen=True)
class Case:
    name: str
    agency: str
    submission: Submission
    reason_code: str
    field: str | None
    before: tuple[tuple[str, Submission], ...] = ()


def referral_envelope(**overrides: Any) -> dict[str, Any]:
    return a_referral().envelope.model_copy(update=overrides).model_dump()


CASES = [
    Case("blank referral ref", REFERRER, a_referral(referral_ref="  "), "missing-field", "referral_ref"),
    Case("no need codes", REFERRER, a_referral(need_codes=[]), "missing-field", "need_codes"),
    Case(
        "blank subject id",
        REFERRER,
        a_referral(subject=a_person("")),
        "missing-field",
        "subject.local_person_id",
    ),
    Case(
        "decline without a reason",
        RECEIVER,
        a_response("decline", reason=None),
        "missing-field",
        "reason",
        ACCEPTED[:1],
    ),
    Case(
        "withdrawal without a reason",
        REFERRER,
        a_withdrawal(reason=""),
        "missing-field",
        "reason",
        ACCEPTED[:1],
    ),
    Case("envelope claims another agency", "police", a_referral(), "forged-agency", "envelope.source_agency"),
    Case(
        "subject record of another agency",
        REFERRER,
        a_referral(envelope=referral_envelope(subject={"agency": "police", "local_person_id": "P-1"})),
        "forged-agency",
        "envelope.subject.agency",
    ),
    Case(
        "envelope subject is another record",
        REFERRER,
        a_referral(envelope=referral_envelope(subject={"agency": REFERRER, "local_person_id": "P-2"})),
        "subject-mismatch",
        "envelope.subject.local_person_id",
    ),
    Case(
        "unknown to-agency",
        REFERRER,
        a_referral(to_agency="ministry-of-magic"),
        "unknown-agency",
        "to_agency",
    ),
    Case(
        "unknown assessment type",
        RECEIVER,
        an_assessment("scheduled", under=None, assessment_type="tea-leaves"),
        "unknown-assessment-type",
        "assessment_type",
    ),
    Case(
        "unknown requested assessment type",
        REFERRER,
        a_referral(requested_assessment_type="tea-leaves"),
        "unknown-assessment-type",
        "requested_assessment_type",
    ),
    Case(
        "unknown contact type",
        "police",
        a_contact(contact_type="seance"),
        "unknown-contact-type",
        "contact_type",
    ),
    Case(
        "unknown need code",
        REFERRER,
        a_referral(need_codes=["accommodation", "vibes"]),
        "unknown-need-code",
        "need_codes[1]",
    ),
    Case(
        "unknown data category",
        "police",
        a_contact(data_categories=["gossip"]),
        "unknown-data-category",
        "data_categories[0]",
    ),
    Case(
        "referred in the future",
        REFERRER,
        a_referral(referred_at=NOW + timedelta(hours=1)),
        "date-in-future",
        "referred_at",
    ),
    Case(
        "born tomorrow",
        REFERRER,
        a_referral(subject=a_person(date_of_birth=date(2026, 3, 3))),
        "date-in-future",
        "subject.date_of_birth",
    ),
    Case(
        "contact before 1900",
        "police",
        a_contact(occurred_at=datetime(1899, 12, 31, tzinfo=UTC)),
        "date-before-1900",
        "occurred_at",
    ),
    Case(
        "born before 1900",
        REFERRER,
        a_referral(subject=a_person(date_of_birth=date(1899, 1, 1))),
        "date-before-1900",
        "subject.date_of_birth",
    ),
    Case(
        "NHS number with a wrong check digit",
        REFERRER,
        a_referral(subject=a_person(nhs_number="9434765918")),
        "invalid-nhs-number",
        "subject.nhs_number",
    ),
    Case(
        "NHS number of repeated digits",
        "police",
        a_contact(subject=a_person(nhs_number="4444444444")),
        "invalid-nhs-number",
        "subject.nhs_number",
    ),
    Case(
        "NI number with a prefix never issued",
        REFERRER,
        a_referral(subject=a_person(ni_number="QQ123456C")),
        "invalid-ni-number",
        "subject.ni_number",
    ),
    Case(
        "response to an unknown referral", RECEIVER, a_response("accept"), "unknown-referral", "referral_ref"
    ),
    Case(
        "accepted by a bystander",
        "police",
        a_response("accept", by="police"),
        "not-receiving-agency",
        "referral_ref",
        ACCEPTED[:1],
    ),
    Case(
        "withdrawn by the receiver",
        RECEIVER,
        a_withdrawal(by=RECEIVER),
        "not-referring-agency",
        "referral_ref",
        ACCEPTED[:1],
    ),
    Case(
        "closed before accepted",
        RECEIVER,
        a_response("close"),
        "illegal-transition",
        "referral_ref",
        ACCEPTED[:1],
    ),
    Case(
        "same referral ref with other content",
        REFERRER,
        a_referral(urgency="emergency"),
        "conflict",
        "referral_ref",
        ACCEPTED[:1],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_broken_rule_gets_its_rejection_receipt_and_changes_nothing(case: Case) -> None:
    scenario = Scenario(MemoryReferralStore()).when_all(case.before)
    before = len(scenario.events)
    rejection = scenario.when(case.agency, case.submission).then_rejected(case.reason_code, case.field)
    assert len(scenario.events) == before
    assert rejection.envelope.source_agency == case.agency
    assert rejection.envelope.causation_id == case.submission.envelope.event_id


PERSONAL = (
    VALID_NHS_NUMBER,
    VALID_NI_NUMBER,
    "Sample",
    "Person",
    "1990",
    "M5 4WT",
    "Example Street",
    "abode",
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_rejection_message_carries_no_personal_data(case: Case) -> None:
    scenario = Scenario(MemoryReferralStore()).when_all(case.before).when(case.agency, case.submission)
    rejection = scenario.outcome.rejection
    assert rejection is not None
    for value in (*PERSONAL, "9434765918", "QQ123456C", "4444444444"):
        assert value not in rejection.message


def test_every_reason_code_is_exercised_by_the_table() -> None:
    schema_level = {"invalid-value"}  # exercised through handle_record below
    assert {c.reason_code for c in CASES} | schema_level == {r.reason_code for r in REJECTIONS}


def test_every_reason_code_is_documented() -> None:
    text = DOC.read_text()
    for rejection in REJECTIONS:
        assert f"`{rejection.reason_code}`" in text, rejection.reason_code


# ---------------------------------------------------------------- records that do not fit the model


def submit_record(record_name: str, record: object, agency: str = REFERRER) -> Any:
    coordinates = Coordinates(topic=f"joinedup.intake.{agency}", partition=2, offset=41, timestamp=NOW)
    return handle_record(
        record_name, record, agency, coordinates, MemoryReferralStore(), default_reference_data()
    )


def test_a_record_missing_a_required_field_is_rejected_naming_the_field() -> None:
    record = a_referral().model_dump()
    del record["to_agency"]
    outcome = submit_record("joinedup.intake.ReferralSubmission", record)
    assert outcome.rejection is not None
    assert (outcome.rejection.reason_code, outcome.rejection.field) == ("missing-field", "to_agency")
    assert outcome.rejection.submission_ref == "R-1"


def test_a_value_outside_its_allowed_set_is_rejected_as_invalid() -> None:
    record = a_referral().model_dump() | {"urgency": "whenever"}
    outcome = submit_record("ReferralSubmission", record)
    assert outcome.rejection is not None
    assert (outcome.rejection.reason_code, outcome.rejection.field) == ("invalid-value", "urgency")
    assert "whenever" not in outcome.rejection.message


def test_a_timestamp_without_a_time_zone_is_rejected_as_invalid() -> None:
    record = a_referral().model_dump() | {"referred_at": datetime(2026, 3, 1, 12, 0)}
    outcome = submit_record("ReferralSubmission", record)
    assert outcome.rejection is not None
    assert (outcome.rejection.reason_code, outcome.rejection.field) == ("invalid-value", "referred_at")


def test_a_record_whose_envelope_is_broken_is_still_answered_with_a_deterministic_receipt() -> None:
    record = a_referral().model_dump() | {"envelope": {"event_type": "ReferralSubmission"}}
    first = submit_record("ReferralSubmission", record)
    again = submit_record("ReferralSubmission", record)
    assert first.rejection is not None
    assert first.rejection.reason_code == "missing-field"
    assert first.receipt == again.receipt
    assert first.receipt.envelope.causation_id is None


def test_a_consent_statement_is_left_to_the_consent_service() -> None:
    assert submit_record("joinedup.intake.ConsentStatement", {"statement_ref": "S-1"}) is None


def test_a_decoded_record_may_be_an_object_with_the_same_attributes() -> None:
    fields = a_contact().model_dump()
    contract_model = SimpleNamespace(**fields | {"envelope": SimpleNamespace(**fields["envelope"])})
    outcome = submit_record("ContactRecord", contract_model, agency="police")
    assert outcome.accepted
    assert outcome.events[0].envelope.causation_id == fields["envelope"]["event_id"]


def test_a_reported_time_within_the_tolerance_is_accepted(scenario: Scenario) -> None:
    scenario.when(REFERRER, a_referral(referred_at=NOW + timedelta(minutes=10), at=EARLIER))
    assert scenario.outcome.accepted
