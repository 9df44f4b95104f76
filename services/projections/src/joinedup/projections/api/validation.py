"""The query API's inputs, validated before anything is looked up: lengths, character sets, identifier checks,
ISO dates, and known codes. A failure is a 422 naming the parameter and the rule, never echoing the value
(it may be personal data)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from joinedup.contract.identifiers import (
    nhs_number_is_valid,
    ni_number_is_valid,
    normalise_nhs_number,
    normalise_ni_number,
)
from joinedup.projections.person_view.read_model import PersonSearch

PERSON_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
AGENCY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
LOCAL_ID_PATTERN = r"^[^\s/\x00-\x1f\x7f](?:[^/\x00-\x1f\x7f]{0,98}[^\s/\x00-\x1f\x7f])?$"
_NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\u2019.-])*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EARLIEST_BIRTH = date(1880, 1, 1)
BREAK_GLASS_MIN = 10
BREAK_GLASS_MAX = 500


def _nhs_number(value: str) -> str:
    digits = normalise_nhs_number(value)
    if len(digits) != 10 or not digits.isdigit():
        raise ValueError("an NHS number is 10 digits")
    if not nhs_number_is_valid(digits):
        raise ValueError("not a valid NHS number (check digit)")
    return digits


def _ni_number(value: str) -> str:
    if not ni_number_is_valid(value):
        raise ValueError("not a valid National Insurance number (two letters, six digits, optional A-D)")
    return normalise_ni_number(value)


def _name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not _NAME.match(cleaned):
        raise ValueError("a name is letters, spaces, hyphens, apostrophes and full stops")
    return cleaned


def _iso_date(value: object) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("a date is ISO 8601, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a calendar date") from None


def _plausible_birth(value: date) -> date:
    if value < EARLIEST_BIRTH:
        raise ValueError(f"a date of birth is on or after {EARLIEST_BIRTH.isoformat()}")
    return value


def _postcode(value: str) -> str:
    compact = "".join(value.split()).upper()
    match = _POSTCODE.match(compact)
    if match is None:
        raise ValueError("not a UK postcode")
    return f"{match[1]} {match[2]}"


def _justification(value: str) -> str:
    cleaned = value.strip()
    if _CONTROL.search(cleaned):
        raise ValueError("the justification may not contain control characters")
    if not BREAK_GLASS_MIN <= len(cleaned) <= BREAK_GLASS_MAX:
        raise ValueError(f"a break-glass justification is {BREAK_GLASS_MIN} to {BREAK_GLASS_MAX} characters")
    return cleaned


NhsNumber = Annotated[str, Field(max_length=16), AfterValidator(_nhs_number)]
NiNumber = Annotated[str, Field(max_length=13), AfterValidator(_ni_number)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_name)]
DateOfBirth = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_plausible_birth)]
Postcode = Annotated[str, Field(min_length=5, max_length=10), AfterValidator(_postcode)]
Justification = Annotated[str, Field(max_length=2 * BREAK_GLASS_MAX), AfterValidator(_justification)]


class SearchParams(BaseModel):
    """``GET /v1/persons`` parameters. Enough to single a person out is required: an NHS or NI number, or a
    family name with a given name, a date of birth or a postcode (no browsing by surname)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nhs_number: NhsNumber | None = None
    ni_number: NiNumber | None = None
    family_name: Name | None = None
    given_name: Name | None = None
    date_of_birth: DateOfBirth | None = None
    postcode: Postcode | None = None

    @model_validator(mode="after")
    def _specific_enough(self) -> SearchParams:
        by_number = self.nhs_number is not None or self.ni_number is not None
        qualifier = self.given_name or self.date_of_birth or self.postcode
        if not by_number and not (self.family_name and qualifier):
            raise ValueError(
                "give nhs_number or ni_number, or family_name with given_name, date_of_birth or postcode"
            )
        return self

    def search(self) -> PersonSearch:
        return PersonSearch(
            nhs_number=self.nhs_number,
            ni_number=self.ni_number,
            family_name=self.family_name,
            given_name=self.given_name,
            date_of_birth=self.date_of_birth,
            postcode=self.postcode,
        )


def justification_problem(value: str) -> tuple[str | None, str | None]:
    """A break-glass header checked: ``(justification, None)`` or ``(None, why it is refused)``."""
    try:
        return _justification(value), None
    except ValueError as error:
        return None, str(error)
