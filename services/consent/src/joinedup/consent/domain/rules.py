"""Small named checks. Each returns nothing or raises the named error for its rule."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from joinedup.consent.domain.errors import (
    CommandRejectedError,
    ForgedAgencyError,
    InvalidFieldError,
    InvalidPeriodError,
    InvalidVersionError,
    LawfulBasisNotAllowedError,
    MissingFieldError,
    OccurredInFutureError,
    OverridePurposeNotAllowedError,
    UnknownAgencyError,
    UnknownDataCategoryError,
    UnknownLawfulBasisError,
    UnknownPurposeError,
    UnknownStatementKindError,
)
from joinedup.consent.domain.events import STATEMENT_KINDS, StatementKind

AGREEMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
AGREEMENT_FORBIDDEN_BASIS_KINDS = frozenset({"consent", "emergency"})
"""Lawful-basis kinds an agreement cannot rest on: consent is per person, break-glass is per request."""


def require_text(value: str | None, field: str) -> None:
    if value is None or not value.strip():
        raise MissingFieldError(field, "is required and must not be blank")


def require_non_empty(values: tuple[str, ...], field: str) -> None:
    if not values:
        raise MissingFieldError(field, "must list at least one code")


def require_agency_of_topic(topic_agency: str, claimed: str, field: str) -> None:
    """An agency may only speak for itself: what it claims must be the agency its topic belongs to."""
    if claimed != topic_agency:
        raise ForgedAgencyError(
            field, f"is {claimed!r} but the submission came from {topic_agency!r}'s topic"
        )


def require_statement_kind(kind: str) -> StatementKind:
    for known in STATEMENT_KINDS:
        if kind == known:
            return known
    raise UnknownStatementKindError("kind", f"{kind!r} is not one of {', '.join(STATEMENT_KINDS)}")


def require_positive_version(version: int) -> None:
    if version < 1:
        raise InvalidVersionError("version", "must be 1 or more")


def _require_known(
    values: Iterable[str], known: frozenset[str], field: str, error: type[CommandRejectedError]
) -> None:
    for value in values:
        if value not in known:
            raise error(field, f"{value!r} is not a known code")


def require_known_agencies(values: Iterable[str], known: frozenset[str], field: str) -> None:
    _require_known(values, known, field, UnknownAgencyError)


def require_known_purposes(values: Iterable[str], known: frozenset[str], field: str) -> None:
    _require_known(values, known, field, UnknownPurposeError)


def require_known_data_categories(values: Iterable[str], known: frozenset[str], field: str) -> None:
    _require_known(values, known, field, UnknownDataCategoryError)


def require_sane_period(valid_from: datetime, valid_until: datetime | None) -> None:
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidPeriodError("valid_until", "must be after valid_from")


def require_not_in_future(occurred_at: datetime, now: datetime, tolerance: timedelta, field: str) -> None:
    if occurred_at > now + tolerance:
        raise OccurredInFutureError(field, f"is more than {tolerance} after the time it was received")


def require_agreement_id(agreement_id: str) -> None:
    require_text(agreement_id, "agreement_id")
    if not AGREEMENT_ID.match(agreement_id):
        raise InvalidFieldError("agreement_id", "must be letters, digits, '.', '_' or '-' (at most 128)")


def require_agreement_lawful_basis(lawful_basis: str, kinds: dict[str, str]) -> None:
    kind = kinds.get(lawful_basis)
    if kind is None:
        raise UnknownLawfulBasisError("lawful_basis", f"{lawful_basis!r} is not a known lawful basis")
    if kind in AGREEMENT_FORBIDDEN_BASIS_KINDS:
        raise LawfulBasisNotAllowedError("lawful_basis", f"an agreement cannot rest on {lawful_basis!r}")


def require_override_purposes(
    override_purposes: tuple[str, ...], purposes: tuple[str, ...], allowed: frozenset[str]
) -> None:
    """An agreement may override an objection only for purposes it covers that are flagged as overrides."""
    for purpose in override_purposes:
        if purpose not in purposes:
            raise OverridePurposeNotAllowedError(
                "override_purposes", f"{purpose!r} is not among the purposes"
            )
        if purpose not in allowed:
            raise OverridePurposeNotAllowedError(
                "override_purposes", f"{purpose!r} is not a safeguarding / vital-interests purpose"
            )
