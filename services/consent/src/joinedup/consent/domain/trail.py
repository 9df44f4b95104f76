"""What a DPO sees: a subject's full consent trail, and what applied at a given instant.

Agreements belong to a subject's trail when they cover data held by one of the subject's agencies (one of
their versions lists that agency among its owners).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from joinedup.consent.domain.events import (
    AgreementEvent,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    StatementEvent,
)
from joinedup.consent.domain.scope import RecordRef
from joinedup.consent.domain.state import ConsentState
from joinedup.consent.domain.timestamps import UtcDatetime

TrailAction = Literal[
    "given", "withdrawn", "objection", "objection-lifted", "agreement-registered", "agreement-ended"
]
_ACTION_ORDER: dict[str, int] = {
    "agreement-registered": 0,
    "given": 1,
    "objection-lifted": 2,
    "objection": 3,
    "withdrawn": 4,
    "agreement-ended": 5,
}


class TrailEntry(BaseModel):
    """One fact in the trail: when it took effect, what it was, and the full event (scope, captured by,
    evidence reference; or the agreement's parties, lawful basis and legal reference)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: UtcDatetime
    action: TrailAction
    ref: str
    """The statement id or the agreement id."""
    version: int
    event: StatementEvent | SharingAgreementRegistered | SharingAgreementEnded


class ConsentTrail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_records: tuple[RecordRef, ...]
    entries: tuple[TrailEntry, ...]


class PointInTimeView(BaseModel):
    """The statements applying and the agreements in force at ``at`` for a subject's records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: UtcDatetime
    subject_records: tuple[RecordRef, ...]
    statements: tuple[StatementEvent, ...]
    agreements: tuple[SharingAgreementRegistered, ...]


def _records(records: Sequence[RecordRef]) -> tuple[RecordRef, ...]:
    return tuple(sorted(set(records), key=lambda r: (r.agency, r.local_person_id)))


def _agreement_concerns(history: Sequence[AgreementEvent], agencies: frozenset[str]) -> bool:
    return any(
        isinstance(event, SharingAgreementRegistered) and agencies.intersection(event.owner_agencies)
        for event in history
    )


def _agreement_entry(event: AgreementEvent) -> TrailEntry:
    if isinstance(event, SharingAgreementEnded):
        return TrailEntry(
            at=event.ended_at,
            action="agreement-ended",
            ref=event.agreement_id,
            version=event.version,
            event=event,
        )
    return TrailEntry(
        at=event.valid_from,
        action="agreement-registered",
        ref=event.agreement_id,
        version=event.version,
        event=event,
    )


def _statement_entry(event: StatementEvent) -> TrailEntry:
    return TrailEntry(
        at=event.effective_at, action=event.kind, ref=event.statement_id, version=event.version, event=event
    )


def trail(state: ConsentState, subject_records: Sequence[RecordRef]) -> ConsentTrail:
    """Every statement version on the records and every version of the agreements covering their agencies,
    in the order they took effect."""
    records = _records(subject_records)
    wanted = set(records)
    entries = [
        _statement_entry(event)
        for statement_id in state.statement_ids_for(records)
        for event in state.statement_history(statement_id)
        if event.subject in wanted
    ]
    agencies = frozenset(record.agency for record in records)
    for agreement_id in state.agreement_ids():
        history = state.agreement_history(agreement_id)
        if _agreement_concerns(history, agencies):
            entries.extend(_agreement_entry(event) for event in history)
    entries.sort(key=lambda e: (e.at, _ACTION_ORDER[e.action], e.ref, e.version))
    return ConsentTrail(subject_records=records, entries=tuple(entries))


def in_force_at(state: ConsentState, subject_records: Sequence[RecordRef], at: datetime) -> PointInTimeView:
    """What applied at ``at``: the statement versions in effect and in period (a lifted objection applies
    nothing and is left out), and the agreements in force covering the subject's agencies."""
    records = _records(subject_records)
    agencies = frozenset(record.agency for record in records)
    statements = tuple(s for s in state.statements_applying(records, at) if s.kind != "objection-lifted")
    agreements = tuple(a for a in state.agreements_in_force(at) if agencies.intersection(a.owner_agencies))
    return PointInTimeView(at=at, subject_records=records, statements=statements, agreements=agreements)
