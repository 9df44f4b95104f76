"""The consent domain <-> the contract's Avro models (joinedup.consent.*, joinedup.intake.ConsentStatement,
joinedup.receipts.*).

- Statement events: Avro ``statement_ref`` <-> ``statement_id = "<subject.agency>/<statement_ref>"``;
  ``effective_at`` <-> ``envelope.occurred_at``; ``event_id`` <-> ``envelope.event_id``.
- Agreement events carry everything in their body; their envelope says who registered or ended them, when.
- Intake: the subject is ``(envelope.subject.agency or envelope.source_agency, subject.local_person_id)``;
  ``occurred_at`` is the envelope's. Only the local person id is kept: consent needs no other personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from joinedup.consent.domain.commands import ConsentStatement, parse_command
from joinedup.consent.domain.errors import InvalidFieldError
from joinedup.consent.domain.events import (
    ConsentEvent,
    ConsentGiven,
    ConsentWithdrawn,
    ObjectionLifted,
    ObjectionRecorded,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    StatementEvent,
)
from joinedup.consent.domain.scope import RecordRef, Scope
from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for, event_id_for
from joinedup.contract.models import consent as avro
from joinedup.contract.models import intake as avro_intake
from joinedup.contract.models import receipts as avro_receipts
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.shared_records import ConsentScope
from joinedup.contract.models.shared_records import RecordRef as AvroRecordRef

AvroStatementEvent = avro.ConsentGiven | avro.ConsentWithdrawn | avro.ObjectionRecorded | avro.ObjectionLifted
AvroConsentEvent = AvroStatementEvent | avro.SharingAgreementRegistered | avro.SharingAgreementEnded
AVRO_CONSENT_EVENTS: tuple[type[AvroConsentEvent], ...] = (
    avro.ConsentGiven,
    avro.ConsentWithdrawn,
    avro.ObjectionRecorded,
    avro.ObjectionLifted,
    avro.SharingAgreementRegistered,
    avro.SharingAgreementEnded,
)

_STATEMENT_MODELS: dict[type[StatementEvent], type[AvroStatementEvent]] = {
    ConsentGiven: avro.ConsentGiven,
    ConsentWithdrawn: avro.ConsentWithdrawn,
    ObjectionRecorded: avro.ObjectionRecorded,
    ObjectionLifted: avro.ObjectionLifted,
}
_STATEMENT_EVENTS: dict[type[AvroStatementEvent], type[StatementEvent]] = {
    model: event for event, model in _STATEMENT_MODELS.items()
}
SUBMISSION_TYPE = avro_intake.ConsentStatement.avro_name
"""The submitted record's Avro full name, as receipts carry it."""


@dataclass(frozen=True)
class Provenance:
    """The envelope facts a domain event does not carry.

    ``recorded_at``: when joinedup learned it (the input's Kafka timestamp; for a DPO command, when the API
    received it). ``occurred_at`` applies to agreement events (when the DPO acted; defaults to
    ``recorded_at``); a statement event's ``occurred_at`` is its ``effective_at``. ``source_agency``
    defaults to the statement's capturing agency, or ``joinedup`` for agreements.
    """

    recorded_at: datetime
    correlation_id: str
    causation_id: UUID | None = None
    source_agency: str | None = None
    occurred_at: datetime | None = None


def event_key(event: ConsentEvent) -> str:
    """The Kafka key on ``joinedup.consent.events``: the subject record, or ``agreement/<id>``."""
    if isinstance(event, StatementEvent):
        return event.subject.key
    return f"agreement/{event.agreement_id}"


def _avro_ref(ref: RecordRef) -> AvroRecordRef:
    return AvroRecordRef(agency=ref.agency, local_person_id=ref.local_person_id)


def _scope(scope: ConsentScope) -> Scope:
    return Scope(
        owner_agencies=scope.owner_agencies,
        recipient_agencies=scope.recipient_agencies,
        purposes=scope.purposes,
        data_categories=scope.data_categories,
    )


def to_avro(event: ConsentEvent, provenance: Provenance) -> AvroConsentEvent:
    """The contract model of a domain event, with its envelope."""
    if isinstance(event, StatementEvent):
        model = _STATEMENT_MODELS[type(event)]
        return model(
            envelope=envelope_for(
                model,
                event_id=UUID(event.event_id),
                occurred_at=event.effective_at,
                recorded_at=provenance.recorded_at,
                source_agency=provenance.source_agency or event.subject.agency,
                correlation_id=provenance.correlation_id,
                causation_id=provenance.causation_id,
                subject=_avro_ref(event.subject),
            ),
            statement_ref=event.statement_ref,
            version=event.version,
            subject=_avro_ref(event.subject),
            scope=ConsentScope(**event.scope.model_dump()),
            valid_from=event.valid_from,
            valid_until=event.valid_until,
            captured_by=event.captured_by,
            evidence_ref=event.evidence_ref,
        )
    agreement_model: type[avro.SharingAgreementRegistered | avro.SharingAgreementEnded] = (
        avro.SharingAgreementRegistered
        if isinstance(event, SharingAgreementRegistered)
        else avro.SharingAgreementEnded
    )
    envelope = envelope_for(
        agreement_model,
        event_id=UUID(event.event_id),
        occurred_at=provenance.occurred_at or provenance.recorded_at,
        recorded_at=provenance.recorded_at,
        source_agency=provenance.source_agency or JOINEDUP_SOURCE,
        correlation_id=provenance.correlation_id,
        causation_id=provenance.causation_id,
    )
    body = event.model_dump(exclude={"event_id"})
    if isinstance(event, SharingAgreementRegistered):
        return avro.SharingAgreementRegistered(envelope=envelope, **body)
    return avro.SharingAgreementEnded(envelope=envelope, **body)


def from_avro(model: AvroConsentEvent) -> ConsentEvent:
    """The domain event of a decoded ``joinedup.consent.events`` record."""
    event_id = str(model.envelope.event_id)
    if isinstance(model, avro.SharingAgreementRegistered | avro.SharingAgreementEnded):
        body = model.model_dump(exclude={"envelope"})
        if isinstance(model, avro.SharingAgreementRegistered):
            return SharingAgreementRegistered(event_id=event_id, **body)
        return SharingAgreementEnded(event_id=event_id, **body)
    subject = RecordRef(agency=model.subject.agency, local_person_id=model.subject.local_person_id)
    return _STATEMENT_EVENTS[type(model)](
        event_id=event_id,
        statement_id=f"{subject.agency}/{model.statement_ref}",
        version=model.version,
        subject=subject,
        scope=_scope(model.scope),
        valid_from=model.valid_from,
        valid_until=model.valid_until,
        effective_at=model.envelope.occurred_at,
        captured_by=model.captured_by,
        evidence_ref=model.evidence_ref,
    )


def consent_event_of(record: AvroRecord) -> ConsentEvent | None:
    """The domain event of any decoded record, or None if it is not a consent event."""
    if isinstance(record, AVRO_CONSENT_EVENTS):
        return from_avro(record)
    return None


def statement_from_intake(submission: avro_intake.ConsentStatement) -> ConsentStatement:
    """The domain command of an agency's submitted statement. Raises a ``CommandRejectedError`` when the
    envelope's subject names another person than the body."""
    envelope = submission.envelope
    named = envelope.subject
    if named is not None and named.local_person_id != submission.subject.local_person_id:
        raise InvalidFieldError("envelope.subject.local_person_id", "does not match subject.local_person_id")
    return parse_command(
        ConsentStatement,
        {
            "source_agency": envelope.source_agency,
            "statement_ref": submission.statement_ref,
            "version": submission.version,
            "subject": {
                "agency": named.agency if named is not None else envelope.source_agency,
                "local_person_id": submission.subject.local_person_id,
            },
            "kind": submission.kind,
            "scope": submission.scope.model_dump(),
            "valid_from": submission.valid_from,
            "valid_until": submission.valid_until,
            "captured_by": submission.captured_by,
            "evidence_ref": submission.evidence_ref,
            "occurred_at": envelope.occurred_at,
        },
    )


def accepted_receipt(
    submission: avro_intake.ConsentStatement,
    *,
    topic_agency: str,
    event_ids: tuple[str, ...],
    received_at: datetime,
) -> avro_receipts.SubmissionAccepted:
    """The receipt for an accepted (or already recorded) statement; its id depends only on the statement,
    so a redelivered submission gets the same receipt."""
    envelope = submission.envelope
    return avro_receipts.SubmissionAccepted(
        envelope=envelope_for(
            avro_receipts.SubmissionAccepted,
            event_id=event_id_for(
                "consent-receipt", "accepted", topic_agency, submission.statement_ref, submission.version
            ),
            occurred_at=received_at,
            recorded_at=received_at,
            source_agency=topic_agency,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.event_id,
            subject=envelope.subject,
        ),
        submission_type=SUBMISSION_TYPE,
        submission_ref=submission.statement_ref,
        event_ids=tuple(UUID(event_id) for event_id in event_ids),
    )


def rejected_receipt(
    submission: avro_intake.ConsentStatement,
    *,
    topic_agency: str,
    reason_code: str,
    field: str,
    message: str,
    received_at: datetime,
    source: tuple[str, int, int],
) -> avro_receipts.SubmissionRejected:
    """The receipt for a rejected statement. ``source`` is (topic, partition, offset): its id is a UUIDv5
    of them, so a redelivery gets the same receipt. ``message`` names fields and codes only."""
    envelope = submission.envelope
    return avro_receipts.SubmissionRejected(
        envelope=envelope_for(
            avro_receipts.SubmissionRejected,
            event_id=event_id_for("consent-receipt", "rejected", *source),
            occurred_at=received_at,
            recorded_at=received_at,
            source_agency=topic_agency,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.event_id,
        ),
        submission_type=SUBMISSION_TYPE,
        submission_ref=submission.statement_ref,
        reason_code=reason_code,
        field=field,
        message=message,
    )
