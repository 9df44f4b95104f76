"""The person as one agency records them (a mirror of the contract's joinedup.common.PersonRecord)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict


class OtherIdentifier(BaseModel):
    """An identifier in some other scheme (a local authority's case number, a hospital number, ...)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    scheme: str
    value: str


class PersonRecord(BaseModel):
    """The subject of a submission: ``local_person_id`` is required, the rest is what the agency knows."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    local_person_id: str
    nhs_number: str | None = None
    ni_number: str | None = None
    given_names: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    address_lines: tuple[str, ...] = ()
    postcode: str | None = None
    phone: str | None = None
    email: str | None = None
    other_identifiers: tuple[OtherIdentifier, ...] = ()
