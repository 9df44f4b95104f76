"""What the resolver consumes: source records as an agency knows them, and human assertions about them.

The unit of identity is the source record, ``(agency, local_person_id)``. Everything else about a record is
evidence that may be missing, misspelt or out of date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

_PERSON_RECORD_FIELDS = (
    "nhs_number",
    "ni_number",
    "given_names",
    "family_name",
    "date_of_birth",
    "sex",
    "postcode",
    "phone",
    "email",
)


class RecordKey(NamedTuple):
    """The identity of a source record. Sorts by agency, then local id."""

    agency: str
    local_person_id: str

    def label(self) -> str:
        return f"{self.agency}/{self.local_person_id}"


class RecordRef(BaseModel):
    """A source record on the wire (mirrors the contract's joinedup.common.RecordRef)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str = Field(min_length=1)
    local_person_id: str = Field(min_length=1)

    @classmethod
    def of(cls, key: RecordKey) -> RecordRef:
        return cls(agency=key.agency, local_person_id=key.local_person_id)

    def key(self) -> RecordKey:
        return RecordKey(self.agency, self.local_person_id)


class SourceRecord(BaseModel):
    """A person as one agency records them (the contract's PersonRecord plus the agency that holds it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str = Field(min_length=1)
    local_person_id: str = Field(min_length=1)
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

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.agency, self.local_person_id)

    @classmethod
    def from_person_record(cls, agency: str, person: Mapping[str, Any]) -> SourceRecord:
        """Build from a decoded Avro PersonRecord (a dict); fields the resolver does not use are ignored."""
        values: dict[str, Any] = {name: person.get(name) for name in _PERSON_RECORD_FIELDS}
        lines: Iterable[str] = person.get("address_lines") or ()
        return cls(
            agency=agency,
            local_person_id=person["local_person_id"],
            address_lines=tuple(lines),
            **values,
        )

    def updated_by(self, newer: SourceRecord) -> SourceRecord:
        """The record after a newer observation of it: supplied fields replace, absent fields are kept.

        An agency that sends only a local id (a contact record, say) does not erase what it said before.
        """
        changes: dict[str, Any] = {
            name: getattr(newer, name)
            for name in (*_PERSON_RECORD_FIELDS, "address_lines")
            if getattr(newer, name) not in (None, "", ())
        }
        return self.model_copy(update=changes)


class RecordObserved(BaseModel):
    """A source record seen in a canonical event (new, or seen again, perhaps with changed identifiers)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record: SourceRecord
    source_event_id: str = Field(min_length=1)
    observed_at: datetime


class _Assertion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    assertion_id: str = Field(min_length=1)
    first: RecordRef
    second: RecordRef
    asserted_by: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    asserted_at: datetime


class SamePersonAsserted(_Assertion):
    """A caseworker or DPO said two records are the same person (a must-link, honoured from now on)."""


class DifferentPersonsAsserted(_Assertion):
    """A caseworker or DPO said two records are different people (a must-not-link, honoured from now on)."""


ResolverInput = RecordObserved | SamePersonAsserted | DifferentPersonsAsserted
