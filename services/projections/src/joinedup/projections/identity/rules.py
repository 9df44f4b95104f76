"""Small named checks on pairs of records: hard cannot-links, strong-identifier rules, contradictions."""

from __future__ import annotations

from joinedup.projections.identity.events import RULE_NHS_NUMBER, RULE_NI_NUMBER
from joinedup.projections.identity.normalise import Features
from joinedup.projections.identity.records import RecordKey


class IdentityRuleError(ValueError):
    """An identity input breaks a rule. Messages name records by reference only, never by personal data."""


class AssertionAboutOneRecordError(IdentityRuleError):
    pass


class AssertionContradictsIdentifiersError(IdentityRuleError):
    pass


def strong_identifiers_conflict(a: Features, b: Features) -> str | None:
    """The identifier on which two records can never be one person: different valid NHS or NI numbers."""
    if a.nhs is not None and b.nhs is not None and a.nhs != b.nhs:
        return "nhs_number"
    if a.ni is not None and b.ni is not None and a.ni != b.ni:
        return "ni_number"
    return None


def strong_identifier_rule(a: Features, b: Features) -> str | None:
    """The deterministic rule that links two records: the same valid NHS number, else the same valid NI."""
    if a.nhs is not None and a.nhs == b.nhs:
        return RULE_NHS_NUMBER
    if a.ni is not None and a.ni == b.ni:
        return RULE_NI_NUMBER
    return None


# Name levels that identify the person's own name, slips and nicknames included.
GIVEN_NAME_OWN = frozenset({"exact", "nickname", "typo"})
FAMILY_NAME_OWN = frozenset({"exact", "partial", "typo"})


def levels_contradict_identity(given: str | None, family: str | None, dob: str | None) -> bool:
    """Given and family names that both disagree, or a date of birth that disagrees outright while the names
    do not both agree. The same valid NHS (or NI) number with the person's own given and family names is
    that person whatever the date of birth says: no keying slip turns one valid number into another
    (mod-11), and a parent's number on a child's record comes with the child's name."""
    if given == "disagree" and family == "disagree":
        return True
    return dob == "disagree" and not (given in GIVEN_NAME_OWN and family in FAMILY_NAME_OWN)


def check_assertion_names_two_records(first: RecordKey, second: RecordKey) -> None:
    if first == second:
        raise AssertionAboutOneRecordError(f"an assertion needs two records, got {first.label()} twice")


def check_same_person_allowed(first: Features | None, second: Features | None) -> None:
    """A "same person" assertion may not join two different valid NHS (or NI) numbers."""
    if first is None or second is None:
        return
    conflict = strong_identifiers_conflict(first, second)
    if conflict is not None:
        raise AssertionContradictsIdentifiersError(
            f"records {first.key.label()} and {second.key.label()} carry different valid {conflict} values"
        )
