"""The bodies the consent HTTP API takes and returns (what /docs shows)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from joinedup.consent.domain.decision import Decision
from joinedup.consent.domain.events import SharingAgreementEnded, SharingAgreementRegistered, StatementEvent
from joinedup.consent.domain.scope import RecordRef, Scope
from joinedup.consent.domain.trail import ConsentTrail, PointInTimeView, TrailAction

_STRICT = ConfigDict(frozen=True, extra="forbid")


class QuestionIn(BaseModel):
    """May data about the person whose records are ``subject_records``, held by ``owner``, be disclosed to
    ``recipient`` for ``purpose`` (data ``category``) at ``at``?"""

    model_config = _STRICT

    subject_records: list[RecordRef] = Field(min_length=1, max_length=100)
    owner: str
    recipient: str
    purpose: str
    category: str
    at: AwareDatetime
    break_glass_justification: str | None = Field(default=None, max_length=2000)


class DecisionsRequest(BaseModel):
    model_config = _STRICT

    questions: list[QuestionIn] = Field(min_length=1)


class DecisionsResponse(BaseModel):
    """One decision per question, in the order asked."""

    model_config = _STRICT

    decisions: list[Decision]


class StatementView(BaseModel):
    """One version of a consent statement, with its kind."""

    model_config = _STRICT

    kind: TrailAction
    event_id: str
    statement_id: str
    version: int
    subject: RecordRef
    scope: Scope
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None
    effective_at: AwareDatetime
    captured_by: str
    evidence_ref: str | None

    @classmethod
    def of(cls, event: StatementEvent) -> StatementView:
        return cls(kind=event.kind, **event.model_dump())


class TrailEntryView(BaseModel):
    model_config = _STRICT

    at: AwareDatetime
    action: TrailAction
    ref: str
    version: int
    event: StatementView | SharingAgreementRegistered | SharingAgreementEnded


class TrailView(BaseModel):
    """Every statement version on the records and every agreement version covering their agencies, in the
    order they took effect."""

    model_config = _STRICT

    subject_records: list[RecordRef]
    entries: list[TrailEntryView]

    @classmethod
    def of(cls, trail: ConsentTrail) -> TrailView:
        return cls(
            subject_records=list(trail.subject_records),
            entries=[
                TrailEntryView(
                    at=entry.at,
                    action=entry.action,
                    ref=entry.ref,
                    version=entry.version,
                    event=StatementView.of(entry.event)
                    if isinstance(entry.event, StatementEvent)
                    else entry.event,
                )
                for entry in trail.entries
            ],
        )


class InForceView(BaseModel):
    """What applied at ``at``: the statement versions in effect and the agreements in force."""

    model_config = _STRICT

    at: AwareDatetime
    subject_records: list[RecordRef]
    statements: list[StatementView]
    agreements: list[SharingAgreementRegistered]

    @classmethod
    def of(cls, view: PointInTimeView) -> InForceView:
        return cls(
            at=view.at,
            subject_records=list(view.subject_records),
            statements=[StatementView.of(s) for s in view.statements],
            agreements=list(view.agreements),
        )


class AgreementRequest(BaseModel):
    """Register (version 1) or amend (a higher version) an information sharing agreement. The registering
    user is the caller."""

    model_config = _STRICT

    agreement_id: str
    version: int = 1
    owner_agencies: list[str]
    recipient_agencies: list[str]
    purposes: list[str]
    data_categories: list[str]
    lawful_basis: str
    legal_reference: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None
    override_purposes: list[str] = []


class EndAgreementRequest(BaseModel):
    """End an agreement from ``ended_at``. ``version`` defaults to the one after the highest known."""

    model_config = _STRICT

    ended_at: AwareDatetime
    reason: str
    version: int | None = None


class AgreementAccepted(BaseModel):
    """The command was valid; ``event_ids`` were published (none when that version was already recorded).
    Decisions reflect them once the service has consumed them back."""

    model_config = _STRICT

    agreement_id: str
    version: int
    event_ids: list[str]


class Rejected(BaseModel):
    """Why a command was refused: a stable reason code, the field, and a message without personal data."""

    model_config = _STRICT

    reason_code: str
    field: str
    message: str
