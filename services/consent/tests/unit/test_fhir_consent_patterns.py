"""The FHIR Consent examples, expressed as joinedup statements and agreements.

https://build.fhir.org/consent-examples.html: withhold from one named organisation, time-limited consent,
deny all except in an emergency, organisation-to-organisation permit.
"""

from __future__ import annotations

import pytest

from joinedup.consent.app.testing import agreement, day, question, scope, statement
from joinedup.consent.domain import ConsentState, decide

OVERRIDES = frozenset({"safeguarding", "vital-interests"})
MARCH = day("2026-03-01")

# Mental health data may go to social care, housing and the police for care coordination ...
BROAD_ISA = agreement(
    "isa-mh-partners",
    recipients=("council-asc", "council-housing", "police"),
    purposes=("care-coordination",),
    categories=("mental-health",),
)


@pytest.mark.parametrize(
    ("recipient", "permit"), [("police", False), ("council-asc", True), ("council-housing", True)]
)
def test_withholding_from_one_named_organisation_denies_only_that_organisation(
    recipient: str, permit: bool
) -> None:
    # ... but the person objects to the police seeing it.
    objection = statement(
        "objection", ref="OBJ-POLICE", covering=scope(recipients=["police"]), evidence_ref="letter-2026-01-05"
    )
    state = ConsentState.fold([BROAD_ISA, objection])

    decision = decide(state, question(recipient=recipient, at=MARCH), override_purposes=OVERRIDES)

    assert decision.permit is permit
    assert decision.basis_id == ("isa-mh-partners" if permit else "council-asc/OBJ-POLICE")


@pytest.mark.parametrize(
    ("when", "permit"),
    [
        ("2025-12-31", False),  # before the consent period
        ("2026-01-01", True),  # its first instant
        ("2026-06-29", True),
        ("2026-06-30", False),  # valid_until is exclusive
        ("2027-01-01", False),
    ],
)
def test_time_limited_consent_permits_only_within_its_period(when: str, permit: bool) -> None:
    consent = statement(
        "given",
        ref="CS-HOUSING",
        covering=scope(owners=["nhs-mh-trust"], recipients=["council-housing"], purposes=["housing-support"]),
        valid_from=day("2026-01-01"),
        valid_until=day("2026-06-30"),
        effective_at=day("2025-12-15"),
    )
    state = ConsentState.fold([consent])

    decision = decide(
        state,
        question(recipient="council-housing", purpose="housing-support", at=day(when)),
        override_purposes=OVERRIDES,
    )

    assert decision.permit is permit
    assert decision.basis_kind == ("consent" if permit else "none")


@pytest.mark.parametrize(
    ("purpose", "recipient"),
    [
        ("care-coordination", "council-asc"),
        ("offender-management", "probation"),
        ("direct-care", "gp-practice"),
    ],
)
def test_deny_all_blocks_every_routine_disclosure(purpose: str, recipient: str) -> None:
    deny_all = statement("objection", ref="DENY-ALL")
    state = ConsentState.fold([BROAD_ISA, deny_all])

    decision = decide(
        state, question(recipient=recipient, purpose=purpose, at=MARCH), override_purposes=OVERRIDES
    )

    assert (decision.permit, decision.reason) == (False, "objection")


def test_deny_all_still_permits_an_emergency_with_a_break_glass_justification() -> None:
    state = ConsentState.fold([BROAD_ISA, statement("objection", ref="DENY-ALL")])

    decision = decide(
        state,
        question(
            recipient="nhs-acute-trust",
            purpose="vital-interests",
            at=MARCH,
            break_glass="cardiac arrest in ED",
        ),
        override_purposes=OVERRIDES,
    )

    assert (decision.permit, decision.basis_kind, decision.lawful_basis) == (
        True,
        "break_glass",
        "break-glass",
    )


def test_organisation_to_organisation_permit_needs_no_consent() -> None:
    isa = agreement(
        "isa-probation-housing",
        owners=("probation",),
        recipients=("council-housing",),
        purposes=("housing-support",),
        categories=("criminal-justice",),
        lawful_basis="public-task",
        legal_reference="Homelessness Reduction Act 2017 s.213B duty to refer",
    )

    decision = decide(
        ConsentState.fold([isa]),
        question(
            owner="probation",
            recipient="council-housing",
            purpose="housing-support",
            category="criminal-justice",
            at=MARCH,
        ),
        override_purposes=OVERRIDES,
    )

    assert decision.model_dump() == {
        "permit": True,
        "basis_kind": "agreement",
        "basis_id": "isa-probation-housing",
        "lawful_basis": "public-task",
        "legal_reference": "Homelessness Reduction Act 2017 s.213B duty to refer",
        "reason": None,
        "overridden_statement_id": None,
    }
