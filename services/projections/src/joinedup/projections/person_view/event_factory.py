"""Canonical events for tests and benchmarks of the person view: well-formed contract models with
deterministic ids (UUIDv5 of their coordinates) and the times you give them. No personal data beyond what a
caller passes in."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for, event_id_for
from joinedup.contract.models.event import Event
from joinedup.contract.models.identity import (
    LinkEvidence,
    PersonCreated,
    PersonsMerged,
    PersonSplit,
    RecordLinked,
    RecordMove,
)
from joinedup.contract.models.referral import (
    AssessmentCancelled,
    AssessmentCompleted,
    AssessmentScheduled,
    AssessmentStarted,
    ContactRecorded,
    ReferralAccepted,
    ReferralClosed,
    ReferralDeclined,
    ReferralReceived,
    ReferralWithdrawn,
)
from joinedup.contract.models.shared_records import Envelope, PersonRecord, RecordRef, ReferralLink
from joinedup.contract.topics import IDENTITY_EVENTS, REFERRAL_EVENTS

MODEL_VERSION = "test"

ReferralStatusType = (
    type[ReferralAccepted] | type[ReferralDeclined] | type[ReferralWithdrawn] | type[ReferralClosed]
)
AssessmentType = (
    type[AssessmentScheduled]
    | type[AssessmentStarted]
    | type[AssessmentCompleted]
    | type[AssessmentCancelled]
)


def at(day: int, hour: int = 9) -> datetime:
    """A time in 2026: ``day`` days after 1 January, at ``hour`` UTC."""
    return datetime(2026, 1, 1, hour, tzinfo=UTC) + timedelta(days=day)


def _envelope(
    model: type[Event], event_id: str, occurred: datetime, source: str, subject: RecordRef | None
) -> Envelope:
    return envelope_for(
        model,
        event_id=event_id_for(event_id),
        occurred_at=occurred,
        recorded_at=occurred,
        source_agency=source,
        correlation_id=event_id,
        subject=subject,
    )


def person_record(local_person_id: str, **identifiers: object) -> PersonRecord:
    return PersonRecord.model_validate({"local_person_id": local_person_id, **identifiers})


def referral_received(
    agency: str,
    ref: str,
    local_person_id: str,
    *,
    to_agency: str = "council-housing",
    requested: str | None = None,
    when: datetime | None = None,
    subject: PersonRecord | None = None,
    data_categories: tuple[str, ...] = ("identity", "housing"),
) -> ReferralReceived:
    when = when or at(0)
    subject = subject or person_record(local_person_id)
    ref_of_record = RecordRef(agency=agency, local_person_id=subject.local_person_id)
    return ReferralReceived(
        envelope=_envelope(ReferralReceived, f"ReferralReceived/{agency}/{ref}", when, agency, ref_of_record),
        referral_ref=ref,
        referring_agency=agency,
        to_agency=to_agency,
        subject=subject,
        need_codes=("accommodation",),
        requested_assessment_type=requested,
        urgency="routine",
        referred_at=when,
        data_categories=data_categories,
    )


def referral_status(
    model: ReferralStatusType, agency: str, ref: str, *, to_agency: str = "council-housing", when: datetime
) -> Event:
    event_id = f"{model.__name__}/{agency}/{ref}"
    envelope = _envelope(model, event_id, when, to_agency, None)
    common = {
        "envelope": envelope,
        "referral_ref": ref,
        "referring_agency": agency,
        "receiving_agency": to_agency,
    }
    if model is ReferralAccepted:
        return ReferralAccepted.model_validate({**common, "accepted_at": when})
    if model is ReferralDeclined:
        return ReferralDeclined.model_validate({**common, "reason": "not-eligible", "declined_at": when})
    if model is ReferralWithdrawn:
        return ReferralWithdrawn.model_validate({**common, "reason": "resolved", "withdrawn_at": when})
    return ReferralClosed.model_validate({**common, "closed_at": when})


def assessment(
    model: AssessmentType,
    agency: str,
    ref: str,
    local_person_id: str,
    assessment_type: str,
    *,
    when: datetime,
    referral: tuple[str, str] | None = None,
    subject: PersonRecord | None = None,
    data_categories: tuple[str, ...] = ("identity", "social-care"),
) -> Event:
    subject = subject or person_record(local_person_id)
    record = RecordRef(agency=agency, local_person_id=subject.local_person_id)
    event_id = f"{model.__name__}/{agency}/{ref}"
    link = ReferralLink(agency=referral[0], referral_ref=referral[1]) if referral else None
    return model.model_validate(
        {
            "envelope": _envelope(model, event_id, when, agency, record),
            "assessment_ref": ref,
            "agency": agency,
            "subject": subject,
            "assessment_type": assessment_type,
            "occurred_at": when,
            "referral": link,
            "data_categories": data_categories,
        }
    )


def contact(
    agency: str,
    ref: str,
    local_person_id: str,
    *,
    contact_type: str = "police-callout",
    when: datetime | None = None,
    related_refs: tuple[str, ...] = (),
    subject: PersonRecord | None = None,
    data_categories: tuple[str, ...] = ("identity", "criminal-justice"),
) -> ContactRecorded:
    when = when or at(0)
    subject = subject or person_record(local_person_id)
    record = RecordRef(agency=agency, local_person_id=subject.local_person_id)
    return ContactRecorded(
        envelope=_envelope(ContactRecorded, f"ContactRecorded/{agency}/{ref}", when, agency, record),
        contact_ref=ref,
        agency=agency,
        subject=subject,
        contact_type=contact_type,
        occurred_at=when,
        related_refs=related_refs,
        data_categories=data_categories,
    )


def person_created(
    person_id: str, agency: str, local_person_id: str, *, when: datetime | None = None
) -> Event:
    when = when or at(0)
    record = RecordRef(agency=agency, local_person_id=local_person_id)
    return PersonCreated(
        envelope=_envelope(PersonCreated, f"PersonCreated/{person_id}", when, JOINEDUP_SOURCE, record),
        model_version=MODEL_VERSION,
        person_id=person_id,
        record=record,
    )


def record_linked(
    person_id: str, agency: str, local_person_id: str, *, to: tuple[str, str], when: datetime | None = None
) -> Event:
    when = when or at(0)
    record = RecordRef(agency=agency, local_person_id=local_person_id)
    evidence = LinkEvidence(
        record=record,
        linked_to=RecordRef(agency=to[0], local_person_id=to[1]),
        rule="nhs-number",
        agreed_fields=("nhs_number",),
    )
    return RecordLinked(
        envelope=_envelope(
            RecordLinked,
            f"RecordLinked/{person_id}/{agency}/{local_person_id}",
            when,
            JOINEDUP_SOURCE,
            record,
        ),
        model_version=MODEL_VERSION,
        person_id=person_id,
        record=record,
        evidence=evidence,
    )


def persons_merged(survivor: str, absorbed: tuple[str, ...], *, when: datetime | None = None) -> Event:
    when = when or at(0)
    event_id = f"PersonsMerged/{survivor}/{'+'.join(absorbed)}"
    return PersonsMerged(
        envelope=_envelope(PersonsMerged, event_id, when, JOINEDUP_SOURCE, None),
        model_version=MODEL_VERSION,
        person_id=survivor,
        absorbed_person_ids=absorbed,
        bridging_links=(),
    )


def person_split(
    person_id: str, moves: tuple[tuple[str, str, str], ...], *, when: datetime | None = None
) -> Event:
    """``moves``: (agency, local_person_id, to_person_id) for each record that leaves ``person_id``."""
    when = when or at(0)
    event_id = f"PersonSplit/{person_id}/" + "+".join(f"{a}/{r}>{p}" for a, r, p in moves)
    return PersonSplit(
        envelope=_envelope(PersonSplit, event_id, when, JOINEDUP_SOURCE, None),
        model_version=MODEL_VERSION,
        person_id=person_id,
        moves=tuple(
            RecordMove(record=RecordRef(agency=a, local_person_id=r), to_person_id=p) for a, r, p in moves
        ),
        reason_code="different-persons-asserted",
    )


AGENCIES = ("council-asc", "council-housing", "nhs-mh-trust", "police", "probation", "jobcentre")
ASSESSMENTS = ("care-act-s9-needs", "care-act-carers", "hra-s189a", "cmht-assessment", "oasys", "work-coach")
CONTACTS = ("police-callout", "ae-attendance", "home-visit", "office-appointment")


def synthetic_stream(count: int, seed: int = 7) -> list[Event]:
    """Exactly ``count`` events: per person two or three records, then a random mix of work about them."""
    return list(iter_synthetic_stream(count, seed))


def iter_synthetic_stream(count: int, seed: int = 7) -> Iterator[Event]:
    """The events of :func:`synthetic_stream`, one person's at a time (a million need not fit in memory)."""
    rng = random.Random(seed)  # noqa: S311 - seeded test data, never inside a decision
    person = 0
    produced = 0
    while produced < count:
        events: list[Event] = []
        person += 1
        pid = f"P{person}"
        agencies = rng.sample(AGENCIES, rng.choice((2, 3)))
        records = [(agency, f"{agency[:3].upper()}-{person}") for agency in agencies]
        events.append(person_created(pid, *records[0], when=at(0)))
        for agency, local in records[1:]:
            events.append(record_linked(pid, agency, local, to=records[0], when=at(1)))
        if person % 50 == 0:  # an earlier person turns out to be this one
            events.append(persons_merged(pid, (f"P{person - 1}",), when=at(2)))
        for n in range(rng.randint(4, 14)):
            agency, local = rng.choice(records)
            day = rng.randint(3, 300)
            ref = f"{person}-{n}"
            roll = rng.random()
            if roll < 0.3:
                kind = rng.choice(ASSESSMENTS)
                events.append(assessment(AssessmentScheduled, agency, f"A{ref}", local, kind, when=at(day)))
                events.append(assessment(AssessmentStarted, agency, f"A{ref}", local, kind, when=at(day + 1)))
                events.append(
                    assessment(AssessmentCompleted, agency, f"A{ref}", local, kind, when=at(day + 5))
                )
            elif roll < 0.55:
                to = rng.choice([a for a in AGENCIES if a != agency])
                requested = rng.choice((None, *ASSESSMENTS))
                events.append(
                    referral_received(
                        agency, f"R{ref}", local, to_agency=to, requested=requested, when=at(day)
                    )
                )
                events.append(
                    referral_status(ReferralAccepted, agency, f"R{ref}", to_agency=to, when=at(day + 1))
                )
                events.append(
                    referral_status(ReferralClosed, agency, f"R{ref}", to_agency=to, when=at(day + 9))
                )
            else:
                related: tuple[str, ...] = ()
                if len(records) > 1 and rng.random() < 0.3:  # the same contact reported by two agencies
                    other_agency, other_local = next(r for r in records if r[0] != agency)
                    events.append(
                        contact(
                            other_agency,
                            f"C{ref}b",
                            other_local,
                            contact_type="ae-attendance",
                            when=at(day),
                        )
                    )
                    related = (f"{other_agency}/C{ref}b",)
                events.append(
                    contact(
                        agency,
                        f"C{ref}",
                        local,
                        contact_type=rng.choice(CONTACTS),
                        when=at(day),
                        related_refs=related,
                    )
                )
        yield from events[: count - produced]
        produced += min(len(events), count - produced)


def keyed_synthetic_stream(count: int, seed: int = 7) -> Iterator[tuple[str, str, Event]]:
    """(catalog topic, key, event) for each event of :func:`synthetic_stream`, keyed as their producers key
    them: identity events by person id, referral events by their subject's record, and a referral's status
    events by the record the referral is about."""
    record_of_referral: dict[tuple[str, str], str] = {}
    for event in iter_synthetic_stream(count, seed):
        subject = event.envelope.subject
        if isinstance(event, PersonCreated | RecordLinked | PersonsMerged | PersonSplit):
            yield IDENTITY_EVENTS, event.person_id, event
            continue
        if isinstance(event, ReferralAccepted | ReferralDeclined | ReferralWithdrawn | ReferralClosed):
            key = record_of_referral[(event.referring_agency, event.referral_ref)]
        else:
            assert subject is not None, event.envelope.event_type
            key = f"{subject.agency}/{subject.local_person_id}"
        if isinstance(event, ReferralReceived):
            record_of_referral[(event.referring_agency, event.referral_ref)] = key
        yield REFERRAL_EVENTS, key, event
