"""A DPO's sharing agreement commands: validated, versioned, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.testing import day, end_command, register_command
from joinedup.consent.domain import (
    CommandRejectedError,
    ConsentState,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    end_agreement,
    register_agreement,
)
from joinedup.consent.domain.event_ids import agreement_event_id

CODES = known_codes()


def test_a_valid_registration_becomes_its_event_with_a_deterministic_id() -> None:
    (event,) = register_agreement(register_command(), ConsentState(), codes=CODES)

    assert isinstance(event, SharingAgreementRegistered)
    assert event.event_id == agreement_event_id("isa-mh-asc", 1, "registered")
    assert event.override_purposes == ("safeguarding",)


def test_registering_the_same_version_again_yields_no_new_events() -> None:
    state = ConsentState.fold(register_agreement(register_command(), ConsentState(), codes=CODES))

    assert register_agreement(register_command(), state, codes=CODES) == ()


def test_registering_the_same_version_with_other_terms_is_a_version_conflict() -> None:
    state = ConsentState.fold(register_agreement(register_command(), ConsentState(), codes=CODES))

    with pytest.raises(CommandRejectedError) as rejected:
        register_agreement(register_command(recipients=("police",)), state, codes=CODES)

    assert rejected.value.reason_code == "version-conflict"


REJECTIONS: dict[str, tuple[dict[str, Any], str, str]] = {
    "an_unknown_owner": ({"owners": ("mi5",)}, "unknown-agency", "owner_agencies"),
    "an_unknown_recipient": ({"recipients": ("acme-ltd",)}, "unknown-agency", "recipient_agencies"),
    "no_recipients": ({"recipients": ()}, "missing-field", "recipient_agencies"),
    "no_purposes": ({"purposes": (), "override_purposes": ()}, "missing-field", "purposes"),
    "an_unknown_purpose": (
        {"purposes": ("marketing",), "override_purposes": ()},
        "unknown-purpose",
        "purposes",
    ),
    "an_unknown_category": ({"categories": ("genome",)}, "unknown-data-category", "data_categories"),
    "an_unknown_lawful_basis": ({"lawful_basis": "because"}, "unknown-lawful-basis", "lawful_basis"),
    "consent_as_the_lawful_basis": ({"lawful_basis": "consent"}, "lawful-basis-not-allowed", "lawful_basis"),
    "break_glass_as_the_lawful_basis": (
        {"lawful_basis": "break-glass"},
        "lawful-basis-not-allowed",
        "lawful_basis",
    ),
    "an_inverted_period": (
        {"valid_from": day("2026-05-01"), "valid_until": day("2026-04-01")},
        "invalid-period",
        "valid_until",
    ),
    "an_override_purpose_it_does_not_cover": (
        {"override_purposes": ("vital-interests",)},
        "override-not-allowed",
        "override_purposes",
    ),
    "an_ordinary_purpose_as_an_override": (
        {"override_purposes": ("care-coordination",)},
        "override-not-allowed",
        "override_purposes",
    ),
    "a_blank_legal_reference": ({"legal_reference": " "}, "missing-field", "legal_reference"),
    "an_agreement_id_with_spaces": ({"agreement_id": "isa one"}, "invalid-field", "agreement_id"),
    "a_version_of_zero": ({"version": 0}, "invalid-version", "version"),
}


@pytest.mark.parametrize(("changes", "reason_code", "field"), REJECTIONS.values(), ids=REJECTIONS.keys())
def test_an_invalid_registration_is_rejected_with_its_reason(
    changes: dict[str, Any], reason_code: str, field: str
) -> None:
    with pytest.raises(CommandRejectedError) as rejected:
        register_agreement(register_command(**changes), ConsentState(), codes=CODES)

    assert (rejected.value.reason_code, rejected.value.field) == (reason_code, field)


def test_ending_a_registered_agreement_becomes_its_event() -> None:
    state = ConsentState.fold(register_agreement(register_command(), ConsentState(), codes=CODES))

    (event,) = end_agreement(end_command(ended_at=day("2026-06-01")), state)

    assert isinstance(event, SharingAgreementEnded)
    assert event.event_id == agreement_event_id("isa-mh-asc", 2, "ended")
    assert state.agreements_in_force(day("2026-06-01")) != ()
    state.apply(event)
    assert state.agreements_in_force(day("2026-06-01")) == ()


def test_ending_an_unknown_agreement_is_rejected() -> None:
    with pytest.raises(CommandRejectedError) as rejected:
        end_agreement(end_command("isa-nobody", ended_at=day("2026-06-01")), ConsentState())

    assert rejected.value.reason_code == "unknown-agreement"


def test_ending_with_the_version_of_a_registration_is_a_version_conflict() -> None:
    state = ConsentState.fold(register_agreement(register_command(), ConsentState(), codes=CODES))

    with pytest.raises(CommandRejectedError) as rejected:
        end_agreement(end_command(version=1, ended_at=day("2026-06-01")), state)

    assert rejected.value.reason_code == "version-conflict"


def test_ending_without_saying_who_ended_it_is_rejected() -> None:
    state = ConsentState.fold(register_agreement(register_command(), ConsentState(), codes=CODES))

    with pytest.raises(CommandRejectedError) as rejected:
        end_agreement(end_command(ended_by=" ", ended_at=day("2026-06-01")), state)

    assert (rejected.value.reason_code, rejected.value.field) == ("missing-field", "ended_by")
