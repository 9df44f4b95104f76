"""Commands in, canonical events out: ``decide(command, state) -> events``.

Each function checks the command against the rules, then against the state: the same statement (or
agreement version) again yields no events; the same (id, version) with different content is a
``VersionConflictError``. Event ids are deterministic, so a redelivered command re-emits the same id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from joinedup.consent.domain import rules
from joinedup.consent.domain.codes import KnownCodes
from joinedup.consent.domain.commands import ConsentStatement, EndSharingAgreement, RegisterSharingAgreement
from joinedup.consent.domain.errors import UnknownAgreementError, VersionConflictError
from joinedup.consent.domain.event_ids import agreement_event_id, statement_event_id
from joinedup.consent.domain.events import (
    STATEMENT_EVENT_TYPES,
    AgreementEvent,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    StatementEvent,
)
from joinedup.consent.domain.state import ConsentState

DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)


def statement_event(command: ConsentStatement) -> StatementEvent:
    """The canonical event for a (valid) statement. Its id is a UUIDv5 of (agency, ref, version, kind)."""
    kind = rules.require_statement_kind(command.kind)
    event_type = STATEMENT_EVENT_TYPES[kind]
    return event_type(
        event_id=statement_event_id(command.subject.agency, command.statement_ref, command.version, kind),
        statement_id=command.statement_id,
        version=command.version,
        subject=command.subject,
        scope=command.scope,
        valid_from=command.valid_from,
        valid_until=command.valid_until,
        effective_at=command.occurred_at,
        captured_by=command.captured_by,
        evidence_ref=command.evidence_ref,
    )


def check_statement(
    command: ConsentStatement,
    *,
    topic_agency: str,
    now: datetime,
    codes: KnownCodes,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> None:
    """Every rule that needs no state. Raises the named error of the first rule broken."""
    rules.require_text(command.source_agency, "envelope.source_agency")
    rules.require_text(command.subject.agency, "subject.agency")
    rules.require_text(command.subject.local_person_id, "subject.local_person_id")
    rules.require_text(command.statement_ref, "statement_ref")
    rules.require_text(command.captured_by, "captured_by")
    rules.require_agency_of_topic(topic_agency, command.source_agency, "envelope.source_agency")
    rules.require_agency_of_topic(topic_agency, command.subject.agency, "subject.agency")
    rules.require_statement_kind(command.kind)
    rules.require_positive_version(command.version)
    rules.require_known_agencies(command.scope.owner_agencies, codes.agencies, "scope.owner_agencies")
    rules.require_known_agencies(command.scope.recipient_agencies, codes.agencies, "scope.recipient_agencies")
    rules.require_known_purposes(command.scope.purposes, codes.purposes, "scope.purposes")
    rules.require_known_data_categories(
        command.scope.data_categories, codes.data_categories, "scope.data_categories"
    )
    rules.require_sane_period(command.valid_from, command.valid_until)
    rules.require_not_in_future(command.occurred_at, now, future_tolerance, "envelope.occurred_at")


def accept_statement(
    command: ConsentStatement,
    state: ConsentState,
    *,
    topic_agency: str,
    now: datetime,
    codes: KnownCodes,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> tuple[StatementEvent, ...]:
    """Validate an agency's statement; return its canonical event, or nothing if already recorded.

    ``topic_agency`` is the agency whose intake topic it came from; ``now`` is when it was received (the
    Kafka timestamp, not the wall clock).
    """
    check_statement(
        command, topic_agency=topic_agency, now=now, codes=codes, future_tolerance=future_tolerance
    )
    event = statement_event(command)
    existing = state.statement_version(event.statement_id, event.version)
    if existing is None:
        return (event,)
    if existing == event:
        return ()
    raise VersionConflictError(
        "version", f"version {event.version} of this statement was recorded with other content"
    )


def agreement_registered(command: RegisterSharingAgreement) -> SharingAgreementRegistered:
    return SharingAgreementRegistered(
        event_id=agreement_event_id(command.agreement_id, command.version, "registered"),
        agreement_id=command.agreement_id,
        version=command.version,
        owner_agencies=command.owner_agencies,
        recipient_agencies=command.recipient_agencies,
        purposes=command.purposes,
        data_categories=command.data_categories,
        lawful_basis=command.lawful_basis,
        legal_reference=command.legal_reference,
        valid_from=command.valid_from,
        valid_until=command.valid_until,
        override_purposes=command.override_purposes,
        registered_by=command.registered_by,
    )


def agreement_ended(command: EndSharingAgreement) -> SharingAgreementEnded:
    return SharingAgreementEnded(
        event_id=agreement_event_id(command.agreement_id, command.version, "ended"),
        agreement_id=command.agreement_id,
        version=command.version,
        ended_at=command.ended_at,
        ended_by=command.ended_by,
        reason=command.reason,
    )


def _new_or_duplicate(event: AgreementEvent, state: ConsentState) -> tuple[AgreementEvent, ...]:
    existing = state.agreement_version(event.agreement_id, event.version)
    if existing is None:
        return (event,)
    if existing == event:
        return ()
    raise VersionConflictError(
        "version", f"version {event.version} of this agreement was recorded with other content"
    )


def register_agreement(
    command: RegisterSharingAgreement, state: ConsentState, *, codes: KnownCodes
) -> tuple[AgreementEvent, ...]:
    """Validate a DPO's agreement registration; its event, or nothing if that version is already recorded."""
    rules.require_agreement_id(command.agreement_id)
    rules.require_positive_version(command.version)
    rules.require_text(command.legal_reference, "legal_reference")
    rules.require_text(command.registered_by, "registered_by")
    rules.require_non_empty(command.owner_agencies, "owner_agencies")
    rules.require_non_empty(command.recipient_agencies, "recipient_agencies")
    rules.require_non_empty(command.purposes, "purposes")
    rules.require_non_empty(command.data_categories, "data_categories")
    rules.require_known_agencies(command.owner_agencies, codes.agencies, "owner_agencies")
    rules.require_known_agencies(command.recipient_agencies, codes.agencies, "recipient_agencies")
    rules.require_known_purposes(command.purposes, codes.purposes, "purposes")
    rules.require_known_data_categories(command.data_categories, codes.data_categories, "data_categories")
    rules.require_agreement_lawful_basis(command.lawful_basis, codes.lawful_basis_kinds)
    rules.require_sane_period(command.valid_from, command.valid_until)
    rules.require_override_purposes(command.override_purposes, command.purposes, codes.override_purposes)
    return _new_or_duplicate(agreement_registered(command), state)


def end_agreement(command: EndSharingAgreement, state: ConsentState) -> tuple[AgreementEvent, ...]:
    """Validate a DPO's ending of a registered agreement; its event, or nothing if already recorded."""
    rules.require_agreement_id(command.agreement_id)
    rules.require_positive_version(command.version)
    rules.require_text(command.ended_by, "ended_by")
    rules.require_text(command.reason, "reason")
    if not state.has_agreement(command.agreement_id):
        raise UnknownAgreementError("agreement_id", "no agreement with this id is registered")
    return _new_or_duplicate(agreement_ended(command), state)
