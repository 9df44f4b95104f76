"""Table-driven tests of the sharing decision, one row per rule or edge of a rule.

Default question: data held by the mental health trust, shown to adult social care, for care coordination,
category mental health, about the council's record ASC-0001. Default agreement: exactly that, in force from
2026-01-01. Rows are (events, question, expected permit, basis kind, basis id, reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from joinedup.consent.app.testing import agreement, agreement_end, day, question, record, scope, statement
from joinedup.consent.domain import ConsentEvent, ConsentState, Question, decide

OVERRIDES = frozenset({"safeguarding", "vital-interests"})
MARCH = day("2026-03-01")
SAFEGUARDING_ISA = agreement(
    "isa-safeguarding",
    purposes=("care-coordination", "safeguarding"),
    override_purposes=("safeguarding",),
)


@dataclass(frozen=True)
class Row:
    events: tuple[ConsentEvent, ...]
    ask: Question
    permit: bool
    basis_kind: str
    basis_id: str | None = None
    reason: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


ROWS: dict[str, Row] = {
    "nothing_recorded_denies_with_no_basis": Row((), question(at=MARCH), False, "none", reason="no-basis"),
    "the_owner_reading_its_own_record_is_permitted": Row(
        (), question(owner="council-asc", recipient="council-asc", at=MARCH), True, "own-record"
    ),
    "consent_covering_the_disclosure_permits": Row(
        (statement("given"),), question(at=MARCH), True, "consent", "council-asc/CS-1"
    ),
    "consent_for_another_recipient_does_not_permit": Row(
        (statement("given", covering=scope(recipients=["probation"])),),
        question(at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "consent_for_another_category_does_not_permit": Row(
        (statement("given", covering=scope(categories=["housing"])),),
        question(at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "consent_before_its_valid_from_does_not_permit": Row(
        (statement("given", valid_from=day("2026-04-01"), effective_at=day("2026-02-01")),),
        question(at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "consent_at_its_valid_until_has_expired": Row(
        (statement("given", valid_until=MARCH),), question(at=MARCH), False, "none", reason="no-basis"
    ),
    "consent_captured_after_the_instant_asked_does_not_apply_yet": Row(
        (statement("given", effective_at=day("2026-03-02")),),
        question(at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "consent_on_another_persons_record_does_not_apply": Row(
        (statement("given", subject=record(person="ASC-0002")),),
        question(at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "consent_captured_on_any_of_the_persons_records_applies": Row(
        (statement("given", subject=record("police", "PNC-77")),),
        question(at=MARCH, records=[record(), record("police", "PNC-77")]),
        True,
        "consent",
        "police/CS-1",
    ),
    "an_agreement_in_force_covering_the_disclosure_permits": Row(
        (agreement(),),
        question(at=MARCH),
        True,
        "agreement",
        "isa-mh-asc",
        extra={
            "lawful_basis": "health-social-care",
            "legal_reference": "Care Act 2014 s.6; Health and Social Care Act 2012 s.251B",
        },
    ),
    "an_agreement_for_another_category_does_not_permit": Row(
        (agreement(),), question(category="health", at=MARCH), False, "none", reason="no-basis"
    ),
    "an_agreement_for_the_reverse_direction_does_not_permit": Row(
        (agreement(),),
        question(owner="council-asc", recipient="nhs-mh-trust", at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "an_agreement_before_its_valid_from_does_not_permit": Row(
        (agreement(valid_from=day("2026-04-01")),), question(at=MARCH), False, "none", reason="no-basis"
    ),
    "an_agreement_after_its_valid_until_does_not_permit": Row(
        (agreement(valid_until=day("2026-02-01")),), question(at=MARCH), False, "none", reason="no-basis"
    ),
    "an_agreement_ended_before_the_instant_does_not_permit": Row(
        (agreement(), agreement_end(ended_at=day("2026-02-15"))),
        question(at=MARCH),
        False,
        "none",
        reason="no-basis",
    ),
    "an_agreement_ended_after_the_instant_still_permitted_then": Row(
        (agreement(), agreement_end(ended_at=day("2026-03-15"))),
        question(at=MARCH),
        True,
        "agreement",
        "isa-mh-asc",
    ),
    "an_objection_beats_an_agreement": Row(
        (agreement(), statement("objection", ref="OBJ-1")),
        question(at=MARCH),
        False,
        "none",
        "council-asc/OBJ-1",
        "objection",
    ),
    "an_objection_for_another_purpose_leaves_the_agreement_in_force": Row(
        (agreement(), statement("objection", ref="OBJ-1", covering=scope(purposes=["research-statistics"]))),
        question(at=MARCH),
        True,
        "agreement",
        "isa-mh-asc",
    ),
    "an_objection_beats_consent": Row(
        (statement("given"), statement("objection", ref="OBJ-1")),
        question(at=MARCH),
        False,
        "none",
        "council-asc/OBJ-1",
        "objection",
    ),
    "a_withdrawal_beats_an_agreement": Row(
        (agreement(), statement("withdrawn", ref="WD-1")),
        question(at=MARCH),
        False,
        "none",
        "council-asc/WD-1",
        "consent-withdrawn",
    ),
    "an_objection_is_reported_before_a_withdrawal": Row(
        (statement("withdrawn", ref="A-WD"), statement("objection", ref="Z-OBJ")),
        question(at=MARCH),
        False,
        "none",
        "council-asc/Z-OBJ",
        "objection",
    ),
    "a_later_version_withdrawing_consent_denies_from_its_time": Row(
        (statement("given"), statement("withdrawn", version=2, effective_at=day("2026-02-01"))),
        question(at=MARCH),
        False,
        "none",
        "council-asc/CS-1",
        "consent-withdrawn",
    ),
    "a_later_version_withdrawing_consent_leaves_earlier_instants_permitted": Row(
        (statement("given"), statement("withdrawn", version=2, effective_at=day("2026-04-01"))),
        question(at=MARCH),
        True,
        "consent",
        "council-asc/CS-1",
    ),
    "a_lifted_objection_no_longer_denies": Row(
        (
            agreement(),
            statement("objection"),
            statement("objection-lifted", version=2, effective_at=day("2026-02-01")),
        ),
        question(at=MARCH),
        True,
        "agreement",
        "isa-mh-asc",
    ),
    "an_objection_lifted_later_still_denied_before_the_lift": Row(
        (
            agreement(),
            statement("objection"),
            statement("objection-lifted", version=2, effective_at=day("2026-04-01")),
        ),
        question(at=MARCH),
        False,
        "none",
        "council-asc/CS-1",
        "objection",
    ),
    "an_override_purpose_listed_by_an_agreement_beats_an_objection": Row(
        (SAFEGUARDING_ISA, statement("objection", ref="OBJ-1")),
        question(purpose="safeguarding", at=MARCH),
        True,
        "agreement",
        "isa-safeguarding",
        "objection-overridden",
        extra={"overridden_statement_id": "council-asc/OBJ-1"},
    ),
    "an_override_purpose_listed_by_an_agreement_beats_a_withdrawal": Row(
        (SAFEGUARDING_ISA, statement("withdrawn", ref="WD-1")),
        question(purpose="safeguarding", at=MARCH),
        True,
        "agreement",
        "isa-safeguarding",
        "withdrawal-overridden",
    ),
    "an_override_purpose_the_agreement_does_not_list_does_not_beat_an_objection": Row(
        (
            agreement("isa-plain", purposes=("care-coordination", "safeguarding")),
            statement("objection", ref="OBJ-1"),
        ),
        question(purpose="safeguarding", at=MARCH),
        False,
        "none",
        "council-asc/OBJ-1",
        "objection",
    ),
    "an_agreement_cannot_make_an_ordinary_purpose_an_override": Row(
        (
            agreement("isa-odd", override_purposes=("care-coordination",)),
            statement("objection", ref="OBJ-1"),
        ),
        question(at=MARCH),
        False,
        "none",
        "council-asc/OBJ-1",
        "objection",
    ),
    "an_ended_agreement_overrides_nothing": Row(
        (
            SAFEGUARDING_ISA,
            agreement_end("isa-safeguarding", ended_at=day("2026-02-01")),
            statement("objection", ref="OBJ-1"),
        ),
        question(purpose="safeguarding", at=MARCH),
        False,
        "none",
        "council-asc/OBJ-1",
        "objection",
    ),
    "break_glass_beats_an_objection": Row(
        (statement("objection"),),
        question(at=MARCH, break_glass="unconscious in A&E, overdose suspected"),
        True,
        "break_glass",
        extra={"lawful_basis": "break-glass"},
    ),
    "a_blank_break_glass_justification_is_no_justification": Row(
        (statement("objection"),),
        question(at=MARCH, break_glass="   "),
        False,
        "none",
        "council-asc/CS-1",
        "objection",
    ),
    "consent_is_preferred_to_an_agreement_when_both_permit": Row(
        (agreement(), statement("given")), question(at=MARCH), True, "consent", "council-asc/CS-1"
    ),
    "of_two_agreements_the_lowest_id_is_the_basis": Row(
        (agreement("isa-b"), agreement("isa-a")), question(at=MARCH), True, "agreement", "isa-a"
    ),
    "an_objection_does_not_stop_an_agency_reading_its_own_record": Row(
        (statement("objection"),),
        question(owner="council-asc", recipient="council-asc", at=MARCH),
        True,
        "own-record",
    ),
    "the_same_objection_still_denies_disclosure_of_that_record_to_another_agency": Row(
        (statement("objection"),),
        question(owner="council-asc", recipient="police", at=MARCH),
        False,
        "none",
        "council-asc/CS-1",
        "objection",
    ),
    "an_agency_reading_its_own_record_needs_no_break_glass": Row(
        (statement("objection"),),
        question(owner="council-asc", recipient="council-asc", at=MARCH, break_glass="urgent"),
        True,
        "own-record",
    ),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_the_sharing_decision_follows_its_rules(row: Row) -> None:
    decision = decide(ConsentState.fold(row.events), row.ask, override_purposes=OVERRIDES)

    assert decision.permit is row.permit
    assert decision.basis_kind == row.basis_kind
    assert decision.basis_id == row.basis_id
    assert decision.reason == row.reason
    for name, value in row.extra.items():
        assert getattr(decision, name) == value


def test_a_consent_decision_names_consent_as_the_lawful_basis() -> None:
    decision = decide(
        ConsentState.fold([statement("given")]), question(at=MARCH), override_purposes=OVERRIDES
    )

    assert decision.lawful_basis == "consent"


def test_a_deny_carries_no_lawful_basis() -> None:
    decision = decide(ConsentState(), question(at=MARCH), override_purposes=OVERRIDES)

    assert (decision.lawful_basis, decision.legal_reference) == (None, None)
