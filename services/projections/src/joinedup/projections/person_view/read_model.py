"""The person view read model: the interface between the projection and the query API."""

from datetime import date, datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict


class SourceRecord(BaseModel):  # one agency's record of the person (identifiers kept for search)
    model_config = ConfigDict(frozen=True)
    agency: str
    local_person_id: str
    nhs_number: str | None = None
    ni_number: str | None = None
    given_names: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    postcode: str | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: str
    at: datetime
    event_id: str


class ViewItem(BaseModel):  # one referral, assessment or contact, de-duplicated
    model_config = ConfigDict(frozen=True)
    item_id: str  # stable: "<kind>:<agency>/<ref>"
    kind: str  # "referral" | "assessment" | "contact"
    owner_agency: str  # the agency that holds it (it reported it)
    record: tuple[str, str]  # (agency, local_person_id) it was reported against
    type: str  # assessment type, contact type, or the referral's requested assessment type / "referral"
    status: str  # current status
    occurred_at: datetime
    data_categories: tuple[str, ...]  # from the submission; disclosure is decided per category
    references: tuple[
        str, ...
    ]  # the agency's own ref plus related refs (other agencies' refs for the same contact)
    counterpart_agency: str | None = None  # a referral's receiving agency
    history: tuple[StatusChange, ...]  # every status change, oldest first (the timeline uses it)
    source_event_ids: tuple[str, ...]  # canonical event ids behind this item


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)
    alert_id: str
    requesting_agency: str
    assessment_item_id: str
    earlier_item_ids: tuple[str, ...]
    equivalence_group: str
    detected_at: datetime


class PersonView(BaseModel):
    model_config = ConfigDict(frozen=True)
    person_id: str
    records: tuple[SourceRecord, ...]  # sorted by (agency, local_person_id)
    items: tuple[ViewItem, ...]  # sorted by (occurred_at, item_id)
    alerts: tuple[Alert, ...]  # open alerts, sorted by alert_id


class PersonSearch(BaseModel):
    model_config = ConfigDict(frozen=True)
    nhs_number: str | None = None
    ni_number: str | None = None
    family_name: str | None = None
    given_name: str | None = None
    date_of_birth: date | None = None
    postcode: str | None = None


class PersonViewReader(Protocol):
    def person(
        self, person_id: str
    ) -> PersonView | None: ...  # follows merge aliases: an absorbed id resolves to its survivor

    def resolve_person_id(self, person_id: str) -> str | None: ...  # alias -> current id, None if unknown

    def person_of_record(self, agency: str, local_person_id: str) -> str | None: ...

    def find_persons(
        self, search: PersonSearch, limit: int = 20
    ) -> list[str]: ...  # person ids, deterministic order

    def find_views(
        self, search: PersonSearch, limit: int = 20
    ) -> list[PersonView]: ...  # the views of find_persons, all read from one committed state


def found_views(reader: PersonViewReader, search: PersonSearch, limit: int) -> list[PersonView]:
    """``find_views`` from ``find_persons`` and ``person``, for a reader whose calls share one transaction."""
    views = (reader.person(person_id) for person_id in reader.find_persons(search, limit))
    return [view for view in views if view is not None]
