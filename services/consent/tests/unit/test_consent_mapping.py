"""Domain events and commands <-> the contract's Avro models, through the real codec."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from joinedup.consent.adapters.mapping import (
    Provenance,
    accepted_receipt,
    consent_event_of,
    event_key,
    rejected_receipt,
    statement_from_intake,
    to_avro,
)
from joinedup.consent.app.testing import agreement, agreement_end, day, record, scope, statement
from joinedup.consent.domain import CommandRejectedError, ConsentEvent, RecordRef
from joinedup.contract.envelope import envelope_for, event_id_for
from joinedup.contract.models.intake import ConsentStatement as AvroConsentStatement
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.models.shared_records import ConsentScope, PersonRecord
from joinedup.contract.models.shared_records import RecordRef as AvroRecordRef
from joinedup.contract.serde import default_codec

RECEIVED = datetime(2026, 3, 2, 9, 30, 15, 250_001, tzinfo=UTC)
PROVENANCE = Provenance(recorded_at=RECEIVED, correlation_id="corr-1")

EVENTS: dict[str, ConsentEvent] = {
    "ConsentGiven": statement(
        "given",
        covering=scope(owners=["nhs-mh-trust"], purposes=["care-coordination"]),
        valid_until=day("2026-12-31"),
        evidence_ref="scan-1",
    ),
    "ConsentWithdrawn": statement("withdrawn", version=2, effective_at=day("2026-02-01")),
    "ObjectionRecorded": statement("objection", ref="OBJ-1", subject=record("police", "PNC-1")),
    "ObjectionLifted": statement("objection-lifted", ref="OBJ-1", version=2),
    "SharingAgreementRegistered": agreement(
        purposes=("care-coordination", "safeguarding"),
        override_purposes=("safeguarding",),
        valid_until=day("2027-01-01"),
    ),
    "SharingAgreementEnded": agreement_end(ended_at=day("2026-06-01")),
}


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_every_consent_event_survives_the_wire_unchanged(event: ConsentEvent) -> None:
    codec = default_codec()
    model = to_avro(event, PROVENANCE)

    decoded = codec.decode(codec.encode(model))

    assert type(decoded) is type(model)
    assert decoded.short_name() == type(event).__name__
    assert consent_event_of(decoded) == event


def test_a_statement_event_takes_effect_when_its_envelope_says_it_occurred() -> None:
    event = EVENTS["ConsentWithdrawn"]

    model = to_avro(event, PROVENANCE)

    assert model.envelope.occurred_at == day("2026-02-01")
    assert model.envelope.recorded_at == RECEIVED
    assert model.envelope.event_id == UUID(event.event_id)
    assert model.envelope.subject == AvroRecordRef(agency="council-asc", local_person_id="ASC-0001")
    assert model.statement_ref == "CS-1"  # type: ignore[union-attr]


def test_an_agreement_event_records_who_acted_and_when() -> None:
    acted = datetime(2026, 1, 5, 12, tzinfo=UTC)

    model = to_avro(
        EVENTS["SharingAgreementRegistered"],
        Provenance(recorded_at=RECEIVED, correlation_id="c", source_agency="nhs-mh-trust", occurred_at=acted),
    )

    assert (model.envelope.source_agency, model.envelope.occurred_at) == ("nhs-mh-trust", acted)
    assert model.envelope.subject is None


def test_a_record_that_is_not_a_consent_event_maps_to_nothing() -> None:
    assert consent_event_of(_submission(envelope_subject=None)) is None


def test_consent_events_are_keyed_by_subject_record_and_agreements_by_id() -> None:
    assert event_key(EVENTS["ObjectionRecorded"]) == "police/PNC-1"
    assert event_key(EVENTS["SharingAgreementEnded"]) == "agreement/isa-mh-asc"


def _submission(*, envelope_subject: AvroRecordRef | None, person: str = "ASC-0001") -> AvroConsentStatement:
    return AvroConsentStatement(
        envelope=envelope_for(
            AvroConsentStatement,
            event_id=event_id_for("test", "statement"),
            occurred_at=day("2026-02-01"),
            recorded_at=day("2026-02-01"),
            source_agency="council-asc",
            correlation_id="corr-9",
            subject=envelope_subject,
        ),
        statement_ref="CS-9",
        version=3,
        subject=PersonRecord(local_person_id=person, given_names="Not Kept", nhs_number="9434765919"),
        kind="withdrawn",
        scope=ConsentScope(purposes=("research-statistics",)),
        valid_from=day("2026-01-01"),
        captured_by="worker-3",
        evidence_ref="call-77",
    )


def test_an_intake_statement_without_an_envelope_subject_is_about_the_source_agencys_record() -> None:
    command = statement_from_intake(_submission(envelope_subject=None))

    assert command.subject == RecordRef(agency="council-asc", local_person_id="ASC-0001")
    assert command.statement_id == "council-asc/CS-9"
    assert command.occurred_at == day("2026-02-01")
    assert (command.kind, command.version, command.scope.purposes) == (
        "withdrawn",
        3,
        ("research-statistics",),
    )
    assert "Not Kept" not in command.model_dump_json()


def test_an_intake_statement_takes_its_subject_agency_from_the_envelope_subject() -> None:
    command = statement_from_intake(
        _submission(envelope_subject=AvroRecordRef(agency="police", local_person_id="ASC-0001"))
    )

    assert command.subject.agency == "police"


def test_an_intake_statement_whose_envelope_names_another_person_is_rejected() -> None:
    with pytest.raises(CommandRejectedError) as raised:
        statement_from_intake(
            _submission(envelope_subject=AvroRecordRef(agency="council-asc", local_person_id="ASC-0002"))
        )

    assert raised.value.reason_code == "invalid-field"
    assert "ASC-000" not in str(raised.value)


def test_receipts_answer_the_submission_and_encode() -> None:
    submission = _submission(envelope_subject=None)
    codec = default_codec()

    accepted = accepted_receipt(
        submission,
        topic_agency="council-asc",
        event_ids=(EVENTS["ConsentGiven"].event_id,),
        received_at=RECEIVED,
    )
    rejected = rejected_receipt(
        submission,
        topic_agency="council-asc",
        reason_code="unknown-purpose",
        field="scope.purposes",
        message="is not a known code",
        received_at=RECEIVED,
        source=("joinedup.intake.council-asc", 1, 42),
    )

    assert isinstance(codec.decode(codec.encode(accepted)), SubmissionAccepted)
    assert isinstance(codec.decode(codec.encode(rejected)), SubmissionRejected)
    assert accepted.envelope.causation_id == submission.envelope.event_id
    assert accepted.event_ids == (UUID(EVENTS["ConsentGiven"].event_id),)
    assert (rejected.submission_ref, rejected.reason_code) == ("CS-9", "unknown-purpose")
    assert (
        rejected.envelope.event_id
        == rejected_receipt(
            submission,
            topic_agency="council-asc",
            reason_code="x",
            field="y",
            message="z",
            received_at=RECEIVED,
            source=("joinedup.intake.council-asc", 1, 42),
        ).envelope.event_id
    )
