"""A DPO's view: the chronological consent trail of a subject, and what applied at an instant."""

from __future__ import annotations

from joinedup.consent.app.testing import agreement, agreement_end, day, record, scope, statement
from joinedup.consent.domain import ConsentState, in_force_at, trail

ASC = record("council-asc", "ASC-0001")
POLICE = record("police", "PNC-0001")
STRANGER = record("council-asc", "ASC-0999")

CONSENT = statement(
    "given",
    subject=ASC,
    covering=scope(recipients=["nhs-mh-trust"]),
    effective_at=day("2026-01-10"),
    valid_from=day("2026-01-10"),
    captured_by="worker-17",
    evidence_ref="form-CS1-scan",
)
WITHDRAWAL = statement(
    "withdrawn",
    version=2,
    subject=ASC,
    covering=scope(recipients=["nhs-mh-trust"]),
    valid_from=day("2026-01-10"),
    effective_at=day("2026-03-01"),
    captured_by="worker-22",
    evidence_ref="phone-note-88",
)
OBJECTION = statement("objection", ref="OBJ-7", subject=POLICE, effective_at=day("2026-02-01"))
LIFT = statement("objection-lifted", ref="OBJ-7", version=2, subject=POLICE, effective_at=day("2026-02-20"))
ISA = agreement("isa-asc-mh", owners=("council-asc",), recipients=("nhs-mh-trust",))
ISA_END = agreement_end("isa-asc-mh", ended_at=day("2026-06-01"), reason="replaced by isa-2027")
UNRELATED_ISA = agreement("isa-probation", owners=("probation",), recipients=("council-housing",))
STRANGERS_CONSENT = statement("given", ref="CS-X", subject=STRANGER)

STATE = ConsentState.fold(
    [ISA_END, STRANGERS_CONSENT, WITHDRAWAL, UNRELATED_ISA, LIFT, OBJECTION, ISA, CONSENT]
)


def test_the_trail_lists_every_fact_about_the_subject_in_the_order_it_took_effect() -> None:
    entries = trail(STATE, [POLICE, ASC]).entries

    assert [(e.at, e.action, e.ref, e.version) for e in entries] == [
        (day("2026-01-01"), "agreement-registered", "isa-asc-mh", 1),
        (day("2026-01-10"), "given", "council-asc/CS-1", 1),
        (day("2026-02-01"), "objection", "police/OBJ-7", 1),
        (day("2026-02-20"), "objection-lifted", "police/OBJ-7", 2),
        (day("2026-03-01"), "withdrawn", "council-asc/CS-1", 2),
        (day("2026-06-01"), "agreement-ended", "isa-asc-mh", 2),
    ]


def test_the_trail_says_who_captured_each_statement_and_on_what_evidence() -> None:
    entries = trail(STATE, [ASC]).entries
    statements = [e.event for e in entries if e.ref == "council-asc/CS-1"]

    assert [(s.captured_by, s.evidence_ref) for s in statements] == [  # type: ignore[union-attr]
        ("worker-17", "form-CS1-scan"),
        ("worker-22", "phone-note-88"),
    ]


def test_the_trail_names_the_agreement_its_lawful_basis_and_legal_reference() -> None:
    (registered,) = [e.event for e in trail(STATE, [ASC]).entries if e.action == "agreement-registered"]

    assert registered.model_dump(include={"agreement_id", "lawful_basis", "legal_reference"}) == {
        "agreement_id": "isa-asc-mh",
        "lawful_basis": "health-social-care",
        "legal_reference": "Care Act 2014 s.6; Health and Social Care Act 2012 s.251B",
    }


def test_the_trail_of_one_record_leaves_out_the_other_records_statements() -> None:
    refs = {e.ref for e in trail(STATE, [POLICE]).entries}

    assert refs == {"police/OBJ-7"}  # the council agreements do not cover police data


def test_what_applied_on_a_day_is_the_statements_and_agreements_in_force_then() -> None:
    view = in_force_at(STATE, [ASC, POLICE], day("2026-02-10"))

    assert [(s.statement_id, s.version, s.kind) for s in view.statements] == [
        ("council-asc/CS-1", 1, "given"),
        ("police/OBJ-7", 1, "objection"),
    ]
    assert [a.agreement_id for a in view.agreements] == ["isa-asc-mh"]


def test_what_applied_after_the_withdrawal_and_the_lift_shows_the_withdrawal_only() -> None:
    view = in_force_at(STATE, [ASC, POLICE], day("2026-03-01"))

    assert [(s.statement_id, s.version, s.kind) for s in view.statements] == [
        ("council-asc/CS-1", 2, "withdrawn")
    ]


def test_after_the_agreement_ended_no_agreement_applied() -> None:
    assert in_force_at(STATE, [ASC], day("2026-07-01")).agreements == ()


def test_the_trail_serialises_to_json_for_the_dpo_export() -> None:
    exported = trail(STATE, [ASC]).model_dump(mode="json")

    assert exported["entries"][1]["event"]["evidence_ref"] == "form-CS1-scan"
    assert exported["entries"][1]["at"] == "2026-01-10T00:00:00Z"
