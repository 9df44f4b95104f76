"""Between the contract and the resolver: canonical events and assertions in, identity events (with their
envelopes) out.

Every time comes from the input: ``recorded_at`` is the input's Kafka timestamp, ``occurred_at`` the time
the resolver gave the event (the input's time too), so a replay maps to the same bytes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for
from joinedup.contract.models import identity as contract
from joinedup.contract.models import referral
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import RecordRef as ContractRecordRef
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
