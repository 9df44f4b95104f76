"""Canonical consent, objection and sharing-agreement events on ``joinedup.consent.events``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from joinedup.contract.models.base import Int32
from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import ConsentScope, RecordRef


class ConsentGiven(Event):
    """A person gave consent to share data within a scope."""

    avro_name: ClassVar[str] = "joinedup.consent.ConsentGiven"
    statement_ref: str
    version: Int32
    subject: RecordRef
    scope: ConsentScope
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    captured_by: str
    evidence_ref: str | None = None


class ConsentWithdrawn(Event):
    """A person withdrew consent within a scope, from valid_from on."""

    avro_name: ClassVar[str] = "joinedup.consent.ConsentWithdrawn"
    statement_ref: str
    version: Int32
    subject: RecordRef
    scope: ConsentScope
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    captured_by: str
    evidence_ref: str | None = None


class ObjectionLifted(Event):
    """A person lifted an objection within a scope."""

    avro_name: ClassVar[str] = "joinedup.consent.ObjectionLifted"
    statement_ref: str
    version: Int32
    subject: RecordRef
    scope: ConsentScope
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    captured_by: str
    evidence_ref: str | None = None


class ObjectionRecorded(Event):
    """A person objected to the sharing of data within a scope."""

    avro_name: ClassVar[str] = "joinedup.consent.ObjectionRecorded"
    statement_ref: str
    version: Int32
    subject: RecordRef
    scope: ConsentScope
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    captured_by: str
    evidence_ref: str | None = None


class SharingAgreementEnded(Event):
    """A sharing agreement was ended; it no longer applies from ended_at."""

    avro_name: ClassVar[str] = "joinedup.consent.SharingAgreementEnded"
    agreement_id: str
    version: Int32
    ended_at: AwareDatetime
    ended_by: str
    reason: str | None = None


class SharingAgreementRegistered(Event):
    """A DPO registered (a version of) an information sharing agreement between agencies."""

    avro_name: ClassVar[str] = "joinedup.consent.SharingAgreementRegistered"
    agreement_id: str
    version: Int32
    owner_agencies: tuple[str, ...]
    recipient_agencies: tuple[str, ...]
    purposes: tuple[str, ...]
    data_categories: tuple[str, ...]
    lawful_basis: str
    legal_reference: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    override_purposes: tuple[str, ...] = ()
    registered_by: str
