"""The consent service's canonical events (published on ``joinedup.consent.events``).

Class names are the Avro record names. Each event here is the payload; the envelope (occurred_at,
recorded_at, correlation, causation, schema fingerprint) is added when it is written to Kafka.

Statement events are versions of an agency's consent statement ``<agency>/<statement_ref>``: a later version
of the same statement supersedes an earlier one from the moment it takes effect (``effective_at``). Agreement
events are versions of a sharing agreement: a registration takes effect from its ``valid_from``, an end from
its ``ended_at``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from joinedup.consent.domain.scope import CodeTuple, Disclosure, RecordRef, Scope
from joinedup.consent.domain.timestamps import UtcDatetime

StatementKind = Literal["given", "withdrawn", "objection", "objection-lifted"]
STATEMENT_KINDS: tuple[StatementKind, ...] = ("given", "withdrawn", "objection", "objection-lifted")


class StatementEvent(BaseModel):
    """One version of a consent statement. Use a concrete subclass; ``kind`` says which."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[StatementKind]

    event_id: str
    statement_id: str = Field(description='"<agency>/<statement_ref>"')
    version: int = Field(ge=1)
    subject: RecordRef
    scope: Scope
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None
    effective_at: UtcDatetime
    captured_by: str
    evidence_ref: str | None = None

    @model_validator(mode="after")
    def _statement_id_names_the_capturing_agency(self) -> StatementEvent:
        prefix = f"{self.subject.agency}/"
        if not self.statement_id.startswith(prefix) or len(self.statement_id) == len(prefix):
            raise ValueError("statement_id must be '<subject agency>/<statement_ref>'")
        return self

    @property
    def statement_ref(self) -> str:
        """The capturing agency's own reference (the Avro record carries this, not the id)."""
        return self.statement_id.partition("/")[2]

    def applies_at(self, at: UtcDatetime) -> bool:
        """In its period at ``at`` (whether this version is the one in effect is the state's question)."""
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


class ConsentGiven(StatementEvent):
    kind: ClassVar[StatementKind] = "given"


class ConsentWithdrawn(StatementEvent):
    kind: ClassVar[StatementKind] = "withdrawn"


class ObjectionRecorded(StatementEvent):
    kind: ClassVar[StatementKind] = "objection"


class ObjectionLifted(StatementEvent):
    kind: ClassVar[StatementKind] = "objection-lifted"


STATEMENT_EVENT_TYPES: dict[StatementKind, type[StatementEvent]] = {
    "given": ConsentGiven,
    "withdrawn": ConsentWithdrawn,
    "objection": ObjectionRecorded,
    "objection-lifted": ObjectionLifted,
}


class SharingAgreementRegistered(BaseModel):
    """A version of an agency-level information sharing agreement, registered by a DPO.

    Its lists are explicit: an empty list covers nothing (unlike a consent scope, where empty means any).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    agreement_id: str
    version: int = Field(ge=1)
    owner_agencies: CodeTuple
    recipient_agencies: CodeTuple
    purposes: CodeTuple
    data_categories: CodeTuple
    lawful_basis: str
    legal_reference: str
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None
    override_purposes: CodeTuple = ()
    registered_by: str

    def covers(self, disclosure: Disclosure) -> bool:
        return (
            disclosure.owner in self.owner_agencies
            and disclosure.recipient in self.recipient_agencies
            and disclosure.purpose in self.purposes
            and disclosure.category in self.data_categories
        )

    def in_period_at(self, at: UtcDatetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


class SharingAgreementEnded(BaseModel):
    """A version of a sharing agreement that ends it from ``ended_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    agreement_id: str
    version: int = Field(ge=1)
    ended_at: UtcDatetime
    ended_by: str
    reason: str | None = None


AgreementEvent = SharingAgreementRegistered | SharingAgreementEnded
ConsentEvent = StatementEvent | SharingAgreementRegistered | SharingAgreementEnded

EVENT_TYPES: dict[str, type[ConsentEvent]] = {
    cls.__name__: cls
    for cls in (
        ConsentGiven,
        ConsentWithdrawn,
        ObjectionRecorded,
        ObjectionLifted,
        SharingAgreementRegistered,
        SharingAgreementEnded,
    )
}
"""Event type name (the Avro record's short name) -> class."""
