"""Who and what a statement or agreement is about: subject records, scopes and the disclosure being asked."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _canonical(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


CodeTuple = Annotated[tuple[str, ...], AfterValidator(_canonical)]
"""A list of codes kept sorted and without repeats, so equal scopes compare and hash equally."""


class RecordRef(BaseModel):
    """A source record: the agency that holds it and that agency's own id for the person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str
    local_person_id: str

    @property
    def key(self) -> str:
        """The Kafka key of the record's consent events, ``<agency>/<local_person_id>``."""
        return f"{self.agency}/{self.local_person_id}"


class Disclosure(BaseModel):
    """One disclosure being asked about: data held by ``owner``, shown to ``recipient``, for ``purpose``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str
    recipient: str
    purpose: str
    category: str


def _any_or_listed(listed: tuple[str, ...], value: str) -> bool:
    return not listed or value in listed


class Scope(BaseModel):
    """What a consent statement covers. An empty list means *any* (all owners, all purposes, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner_agencies: CodeTuple = ()
    recipient_agencies: CodeTuple = ()
    purposes: CodeTuple = ()
    data_categories: CodeTuple = ()

    def covers(self, disclosure: Disclosure) -> bool:
        return (
            _any_or_listed(self.owner_agencies, disclosure.owner)
            and _any_or_listed(self.recipient_agencies, disclosure.recipient)
            and _any_or_listed(self.purposes, disclosure.purpose)
            and _any_or_listed(self.data_categories, disclosure.category)
        )
