"""Between the contract and the resolver: canonical events and assertions in, identity events (with their
envelopes) out.

Every time comes from the input: ``recorded_at`` is the input's Kafka timestamp, ``occurred_at`` the time
the resolver gave the event (the input's time too), so a replay maps to the same bytes.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for
from joinedup.contract.models import identity as contract
from joinedup.contract.models import referral
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import RecordRef as ContractRecordRef
from joinedup.contract.schemas import registry
from joinedup.contract.streams import Datum
from joinedup.projections.identity import events as domain
from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordObserved,
    RecordRef,
    ResolverInput,
    SamePersonAsserted,
    SourceRecord,
)

_RECORD_BEARING = (
    referral.AssessmentCancelled,
    referral.AssessmentCompleted,
    referral.AssessmentScheduled,
    referral.AssessmentStarted,
    referral.ContactRecorded,
)


def resolver_input(record: AvroRecord, observed_at: datetime) -> ResolverInput | None:
    """What the resolver learns from one input: the subject record of a canonical event, or an assertion.

    ``observed_at`` is the input's Kafka timestamp. Events that carry no person record (a referral accepted,
    declined...) teach the resolver nothing: None.
    """
    if isinstance(record, referral.ReferralReceived):
        agency = record.referring_agency
    elif isinstance(record, _RECORD_BEARING):
        agency = record.agency
    elif isinstance(record, contract.SamePersonAsserted | contract.DifferentPersonsAsserted):
        return _assertion(record)
    else:
        return None
    return RecordObserved(
        record=SourceRecord.from_person_record(agency, record.subject.model_dump()),
        source_event_id=str(record.envelope.event_id),
        observed_at=observed_at,
    )


_SUBJECT_AGENCY_FIELD: dict[str, str] = {
    referral.ReferralReceived.avro_name: "referring_agency",
    **{kind.avro_name: "agency" for kind in _RECORD_BEARING},
}
"""The record-bearing canonical events, by full name: which field names the agency holding the subject."""
_ASSERTIONS: dict[str, type[SamePersonAsserted | DifferentPersonsAsserted]] = {
    contract.SamePersonAsserted.avro_name: SamePersonAsserted,
    contract.DifferentPersonsAsserted.avro_name: DifferentPersonsAsserted,
}


def resolver_input_of(
    avro_name: str, fields: Mapping[str, Any], observed_at: datetime
) -> ResolverInput | None:
    """:func:`resolver_input` from a record in fastavro's dict form (the worker's hot path: no contract model
    is built; the resolver's own models validate the fields it reads). The same result for the same record
    (test_identity_datum.py)."""
    agency_field = _SUBJECT_AGENCY_FIELD.get(avro_name)
    if agency_field is not None:
        return RecordObserved(
            record=SourceRecord.from_person_record(fields[agency_field], fields["subject"]),
            source_event_id=str(fields["envelope"]["event_id"]),
            observed_at=observed_at,
        )
    kind = _ASSERTIONS.get(avro_name)
    if kind is None:
        return None
    first, second = fields["first"], fields["second"]
    return kind(
        assertion_id=fields["assertion_id"],
        first=RecordRef(agency=first["agency"], local_person_id=first["local_person_id"]),
        second=RecordRef(agency=second["agency"], local_person_id=second["local_person_id"]),
        asserted_by=fields["asserted_by"],
        reason=fields["reason"],
        asserted_at=fields["asserted_at"],
    )


def _assertion(
    record: contract.SamePersonAsserted | contract.DifferentPersonsAsserted,
) -> SamePersonAsserted | DifferentPersonsAsserted:
    kind = SamePersonAsserted if isinstance(record, contract.SamePersonAsserted) else DifferentPersonsAsserted
    return kind(
        assertion_id=record.assertion_id,
        first=RecordRef(agency=record.first.agency, local_person_id=record.first.local_person_id),
        second=RecordRef(agency=record.second.agency, local_person_id=record.second.local_person_id),
        asserted_by=record.asserted_by,
        reason=record.reason,
        asserted_at=record.asserted_at,
    )


def _ref(ref: RecordRef) -> ContractRecordRef:
    return ContractRecordRef(agency=ref.agency, local_person_id=ref.local_person_id)


def _evidence(evidence: domain.LinkEvidence) -> contract.LinkEvidence:
    return contract.LinkEvidence(
        record=_ref(evidence.record),
        linked_to=_ref(evidence.linked_to),
        rule=evidence.rule,
        score=evidence.score,
        agreed_fields=evidence.agreed_fields,
        asserted_by=evidence.asserted_by,
        reason=evidence.reason,
    )


def identity_event(event: domain.AnyIdentityEvent, cause: Event, recorded_at: datetime) -> Event:
    """The contract record of one resolver event; ``cause`` is the input that caused it (its event id is the
    causation id, its correlation id carries over) and ``recorded_at`` the input's Kafka timestamp."""
    kind: type[Event] = getattr(contract, event.event_type)
    subject = event.subject()
    envelope = envelope_for(
        kind,
        event_id=uuid.UUID(event.event_id),
        occurred_at=event.occurred_at,
        recorded_at=recorded_at,
        source_agency=JOINEDUP_SOURCE,
        correlation_id=cause.envelope.correlation_id,
        causation_id=cause.envelope.event_id,
        subject=_ref(subject) if subject is not None else None,
    )
    common = {"envelope": envelope, "model_version": event.model_version}
    if isinstance(event, domain.PersonCreated):
        return contract.PersonCreated(**common, person_id=event.person_id, record=_ref(event.record))
    if isinstance(event, domain.RecordLinked):
        return contract.RecordLinked(
            **common, person_id=event.person_id, record=_ref(event.record), evidence=_evidence(event.evidence)
        )
    if isinstance(event, domain.PersonsMerged):
        return contract.PersonsMerged(
            **common,
            person_id=event.person_id,
            absorbed_person_ids=event.absorbed_person_ids,
            bridging_links=tuple(_evidence(e) for e in event.bridging_links),
            asserted_by=event.asserted_by,
            reason=event.reason,
        )
    if isinstance(event, domain.PersonSplit):
        return contract.PersonSplit(
            **common,
            person_id=event.person_id,
            moves=tuple(
                contract.RecordMove(record=_ref(m.record), to_person_id=m.to_person_id) for m in event.moves
            ),
            reason_code=event.reason_code,
            asserted_by=event.asserted_by,
            reason=event.reason,
        )
    return contract.MatchReviewRequested(
        **common,
        record=_ref(event.record),
        candidate=_ref(event.candidate),
        person_id=event.person_id,
        candidate_person_id=event.candidate_person_id,
        score=event.score,
        reason_code=event.reason_code,
        agreed_fields=event.agreed_fields,
        disagreed_fields=event.disagreed_fields,
    )


def identity_datum(
    event: domain.AnyIdentityEvent, recorded_at: datetime, *, correlation_id: str, causation_id: uuid.UUID
) -> Datum:
    """The record :func:`identity_event` builds, in the encoder's dict form, without building the contract
    models (the worker's hot path); ``correlation_id`` and ``causation_id`` are the causing input's
    correlation id and event id. test_identity_datum.py shows that both encode to the same bytes and headers
    for every identity event type."""
    if event.occurred_at.tzinfo is None or recorded_at.tzinfo is None:  # what AwareDatetime refuses
        raise ValueError("identity event times must be timezone-aware")
    event_type = event.event_type
    avro_name, short_name, fingerprint = _names_of(event_type)
    subject = event.subject()
    event_id = uuid.UUID(event.event_id)
    fields: dict[str, Any] = {
        "envelope": {
            "event_id": event_id,
            "event_type": short_name,
            "occurred_at": event.occurred_at,
            "recorded_at": recorded_at,
            "source_agency": JOINEDUP_SOURCE,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "subject": _ref_datum(subject) if subject is not None else None,
            "schema_fingerprint": fingerprint,
        },
        "model_version": event.model_version,
    }
    if isinstance(event, domain.PersonCreated):
        fields["person_id"] = event.person_id
        fields["record"] = _ref_datum(event.record)
    elif isinstance(event, domain.RecordLinked):
        fields["person_id"] = event.person_id
        fields["record"] = _ref_datum(event.record)
        fields["evidence"] = _evidence_datum(event.evidence)
    elif isinstance(event, domain.PersonsMerged):
        fields["person_id"] = event.person_id
        fields["absorbed_person_ids"] = event.absorbed_person_ids
        fields["bridging_links"] = [_evidence_datum(e) for e in event.bridging_links]
        fields["asserted_by"] = event.asserted_by
        fields["reason"] = event.reason
    elif isinstance(event, domain.PersonSplit):
        fields["person_id"] = event.person_id
        fields["moves"] = [
            {"record": _ref_datum(m.record), "to_person_id": m.to_person_id} for m in event.moves
        ]
        fields["reason_code"] = event.reason_code
        fields["asserted_by"] = event.asserted_by
        fields["reason"] = event.reason
    else:
        fields["record"] = _ref_datum(event.record)
        fields["candidate"] = _ref_datum(event.candidate)
        fields["person_id"] = event.person_id
        fields["candidate_person_id"] = event.candidate_person_id
        fields["score"] = event.score
        fields["reason_code"] = event.reason_code
        fields["agreed_fields"] = event.agreed_fields
        fields["disagreed_fields"] = event.disagreed_fields
    return Datum(avro_name, fields, event.event_id, recorded_at)


@cache
def _names_of(event_type: str) -> tuple[str, str, str]:
    """The record's full name, ``envelope.event_type`` and ``envelope.schema_fingerprint`` of an identity
    event type (the encoder stamps the same two values)."""
    kind: type[Event] = getattr(contract, event_type)
    found = registry().for_model(kind)
    return kind.avro_name, found.short_name, found.current.fingerprint_hex


def _ref_datum(ref: RecordRef) -> dict[str, Any]:
    return {"agency": ref.agency, "local_person_id": ref.local_person_id}


def _evidence_datum(evidence: domain.LinkEvidence) -> dict[str, Any]:
    return {
        "record": _ref_datum(evidence.record),
        "linked_to": _ref_datum(evidence.linked_to),
        "rule": evidence.rule,
        "score": evidence.score,
        "agreed_fields": evidence.agreed_fields,
        "asserted_by": evidence.asserted_by,
        "reason": evidence.reason,
    }


def event_key(event: domain.AnyIdentityEvent) -> str:
    """The record key on ``joinedup.identity.events``: the person id (a review of two records not yet in a
    person, which cannot happen today, would fall back to the record reference)."""
    if isinstance(event, domain.MatchReviewRequested):
        if event.person_id is not None:
            return event.person_id
        return event.candidate_person_id or f"{event.record.agency}/{event.record.local_person_id}"
    return event.person_id


def assertion_key(first: RecordRef, second: RecordRef) -> str:
    """The record key on ``joinedup.identity.assertions``: the two records, sorted."""
    a, b = sorted((f"{first.agency}/{first.local_person_id}", f"{second.agency}/{second.local_person_id}"))
    return f"{a}|{b}"


def domain_event(record: AvroRecord) -> domain.AnyIdentityEvent | None:
    """The resolver event a contract identity record stands for (to rebuild membership from the topic)."""
    if not isinstance(record, Event):
        return None
    base = {
        "event_id": str(record.envelope.event_id),
        "occurred_at": record.envelope.occurred_at,
        "causation_id": str(record.envelope.causation_id or ""),
        "model_version": getattr(record, "model_version", ""),
    }
    if isinstance(record, contract.PersonCreated):
        return domain.PersonCreated(**base, person_id=record.person_id, record=_domain_ref(record.record))
    if isinstance(record, contract.RecordLinked):
        return domain.RecordLinked(
            **base,
            person_id=record.person_id,
            record=_domain_ref(record.record),
            evidence=_domain_evidence(record.evidence),
        )
    if isinstance(record, contract.PersonsMerged):
        return domain.PersonsMerged(
            **base,
            person_id=record.person_id,
            absorbed_person_ids=record.absorbed_person_ids,
            bridging_links=tuple(_domain_evidence(e) for e in record.bridging_links),
            asserted_by=record.asserted_by,
            reason=record.reason,
        )
    if isinstance(record, contract.PersonSplit):
        return domain.PersonSplit(
            **base,
            person_id=record.person_id,
            moves=tuple(
                domain.RecordMove(record=_domain_ref(m.record), to_person_id=m.to_person_id)
                for m in record.moves
            ),
            reason_code=record.reason_code,
            asserted_by=record.asserted_by,
            reason=record.reason,
        )
    return None


def _domain_ref(ref: ContractRecordRef) -> RecordRef:
    return RecordRef(agency=ref.agency, local_person_id=ref.local_person_id)


def _domain_evidence(evidence: contract.LinkEvidence) -> domain.LinkEvidence:
    return domain.LinkEvidence(
        record=_domain_ref(evidence.record),
        linked_to=_domain_ref(evidence.linked_to),
        rule=evidence.rule,
        score=evidence.score,
        agreed_fields=evidence.agreed_fields,
        asserted_by=evidence.asserted_by,
        reason=evidence.reason,
    )
