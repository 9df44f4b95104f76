"""Shared records: the envelope, record references, the person record and consent scope."""

from __future__ import annotations

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime

from joinedup.contract.models.base import AvroRecord


class ConsentScope(AvroRecord):
    """What a consent statement or objection covers. Each list empty means 'any'."""

    avro_name: ClassVar[str] = "joinedup.common.ConsentScope"
    owner_agencies: tuple[str, ...] = ()
    recipient_agencies: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    data_categories: tuple[str, ...] = ()


class OtherIdentifier(AvroRecord):
    """An identifier of a person in some other scheme (e.g. a local authority case number)."""

    avro_name: ClassVar[str] = "joinedup.common.OtherIdentifier"
    scheme: str
    value: str


class PersonRecord(AvroRecord):
    """What an agency knows about a person in one of its records: the input to identity resolution."""

    avro_name: ClassVar[str] = "joinedup.common.PersonRecord"
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


class RecordRef(AvroRecord):
    """A source record: one agency's record of a person, named by that agency's local id."""

    avro_name: ClassVar[str] = "joinedup.common.RecordRef"
    agency: str
    local_person_id: str


class ReferralLink(AvroRecord):
    """A reference to a referral, named by the referring agency and its own referral reference."""

    avro_name: ClassVar[str] = "joinedup.common.ReferralLink"
    agency: str
    referral_ref: str


class Envelope(AvroRecord):
    """Metadata carried as the first field of every event and every intake submission."""

    avro_name: ClassVar[str] = "joinedup.common.Envelope"
    event_id: UUID
    event_type: str
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    source_agency: str
    correlation_id: str
    causation_id: UUID | None = None
    subject: RecordRef | None = None
    schema_fingerprint: str
