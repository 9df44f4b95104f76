"""Builders of consent events, commands and questions with sensible defaults, for tests and demos.

Test modules cannot import each other (pytest's importlib mode), so the builders live here, next to the
contract's own ``testing`` module in spirit. Only the domain is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from joinedup.consent.domain.commands import ConsentStatement, EndSharingAgreement, RegisterSharingAgreement
from joinedup.consent.domain.decision import Question
from joinedup.consent.domain.event_ids import agreement_event_id, statement_event_id
from joinedup.consent.domain.events import (
    STATEMENT_EVENT_TYPES,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    StatementEvent,
    StatementKind,
)
from joinedup.consent.domain.scope import RecordRef, Scope

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def day(iso_date: str) -> datetime:
    """Midnight UTC of an ISO date, e.g. ``day("2026-03-01")``."""
    return datetime.fromisoformat(iso_date).replace(tzinfo=UTC)


def record(agency: str = "council-asc", person: str = "ASC-0001") -> RecordRef:
    return RecordRef(agency=agency, local_person_id=person)


def scope(
    owners: Sequence[str] = (),
    recipients: Sequence[str] = (),
    purposes: Sequence[str] = (),
    categories: Sequence[str] = (),
) -> Scope:
    return Scope(
        owner_agencies=tuple(owners),
        recipient_agencies=tuple(recipients),
        purposes=tuple(purposes),
        data_categories=tuple(categories),
    )


def statement(
    kind: StatementKind,
    *,
    ref: str = "CS-1",
    version: int = 1,
    subject: RecordRef | None = None,
    covering: Scope | None = None,
    valid_from: datetime = EPOCH,
    valid_until: datetime | None = None,
    effective_at: datetime | None = None,
    captured_by: str = "worker-17",
    evidence_ref: str | None = None,
) -> StatementEvent:
    """A statement event; ``effective_at`` defaults to ``valid_from``."""
    subject = subject or record()
    return STATEMENT_EVENT_TYPES[kind](
        event_id=statement_event_id(subject.agency, ref, version, kind),
        statement_id=f"{subject.agency}/{ref}",
        version=version,
        subject=subject,
        scope=covering or Scope(),
        valid_from=valid_from,
        valid_until=valid_until,
        effective_at=effective_at or valid_from,
        captured_by=captured_by,
        evidence_ref=evidence_ref,
    )


def agreement(
    agreement_id: str = "isa-mh-asc",
    *,
    version: int = 1,
    owners: Sequence[str] = ("nhs-mh-trust",),
    recipients: Sequence[str] = ("council-asc",),
    purposes: Sequence[str] = ("care-coordination",),
    categories: Sequence[str] = ("mental-health",),
    lawful_basis: str = "health-social-care",
    legal_reference: str = "Care Act 2014 s.6; Health and Social Care Act 2012 s.251B",
    valid_from: datetime = EPOCH,
    valid_until: datetime | None = None,
    override_purposes: Sequence[str] = (),
    registered_by: str = "dpo-council",
) -> SharingAgreementRegistered:
    return SharingAgreementRegistered(
        event_id=agreement_event_id(agreement_id, version, "registered"),
        agreement_id=agreement_id,
        version=version,
        owner_agencies=tuple(owners),
        recipient_agencies=tuple(recipients),
        purposes=tuple(purposes),
        data_categories=tuple(categories),
        lawful_basis=lawful_basis,
        legal_reference=legal_reference,
        valid_from=valid_from,
        valid_until=valid_until,
        override_purposes=tuple(override_purposes),
        registered_by=registered_by,
    )


def agreement_end(
    agreement_id: str = "isa-mh-asc",
    *,
    version: int = 2,
    ended_at: datetime,
    ended_by: str = "dpo-council",
    reason: str = "superseded",
) -> SharingAgreementEnded:
    return SharingAgreementEnded(
        event_id=agreement_event_id(agreement_id, version, "ended"),
        agreement_id=agreement_id,
        version=version,
        ended_at=ended_at,
        ended_by=ended_by,
        reason=reason,
    )


def question(
    *,
    owner: str = "nhs-mh-trust",
    recipient: str = "council-asc",
    purpose: str = "care-coordination",
    category: str = "mental-health",
    at: datetime,
    records: Sequence[RecordRef] | None = None,
    break_glass: str | None = None,
) -> Question:
    return Question(
        subject_records=tuple(records) if records is not None else (record(),),
        owner=owner,
        recipient=recipient,
        purpose=purpose,
        category=category,
        at=at,
        break_glass_justification=break_glass,
    )


def statement_command(
    kind: str = "given",
    *,
    agency: str = "council-asc",
    source_agency: str | None = None,
    person: str = "ASC-0001",
    ref: str = "CS-1",
    version: int = 1,
    covering: Scope | None = None,
    valid_from: datetime = EPOCH,
    valid_until: datetime | None = None,
    occurred_at: datetime = EPOCH,
    captured_by: str = "worker-17",
    evidence_ref: str | None = "form-CS1-scan",
) -> ConsentStatement:
    return ConsentStatement(
        source_agency=source_agency if source_agency is not None else agency,
        statement_ref=ref,
        version=version,
        subject=RecordRef(agency=agency, local_person_id=person),
        kind=kind,
        scope=covering or Scope(),
        valid_from=valid_from,
        valid_until=valid_until,
        captured_by=captured_by,
        evidence_ref=evidence_ref,
        occurred_at=occurred_at,
    )


def register_command(
    agreement_id: str = "isa-mh-asc",
    *,
    version: int = 1,
    owners: Sequence[str] = ("nhs-mh-trust",),
    recipients: Sequence[str] = ("council-asc",),
    purposes: Sequence[str] = ("care-coordination", "safeguarding"),
    categories: Sequence[str] = ("mental-health",),
    lawful_basis: str = "health-social-care",
    legal_reference: str = "Care Act 2014 s.6",
    valid_from: datetime = EPOCH,
    valid_until: datetime | None = None,
    override_purposes: Sequence[str] = ("safeguarding",),
    registered_by: str = "dpo-council",
) -> RegisterSharingAgreement:
    return RegisterSharingAgreement(
        agreement_id=agreement_id,
        version=version,
        owner_agencies=tuple(owners),
        recipient_agencies=tuple(recipients),
        purposes=tuple(purposes),
        data_categories=tuple(categories),
        lawful_basis=lawful_basis,
        legal_reference=legal_reference,
        valid_from=valid_from,
        valid_until=valid_until,
        override_purposes=tuple(override_purposes),
        registered_by=registered_by,
    )


def end_command(
    agreement_id: str = "isa-mh-asc",
    *,
    version: int = 2,
    ended_at: datetime,
    ended_by: str = "dpo-council",
    reason: str = "superseded",
) -> EndSharingAgreement:
    return EndSharingAgreement(
        agreement_id=agreement_id, version=version, ended_at=ended_at, ended_by=ended_by, reason=reason
    )
