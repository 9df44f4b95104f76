"""The person view projector: folds canonical referral and identity events into the store, and raises
repeat-assessment alerts. Pure logic over a store Protocol: no Kafka, no clock, no randomness.

- Idempotent on ``event_id``: an event applied before changes nothing (the store remembers the ids).
- Referral, assessment and contact events write one item row (and one status row) under the source record
  they were reported against; identifiers of the record are kept from its newest report (occurred_at, then
  event id). A status event for a referral not seen yet waits under the referral's item id.
- Identity events only move records between persons (PersonCreated / RecordLinked place a record,
  PersonsMerged moves every record of the absorbed persons and leaves aliases, PersonSplit moves records);
  items follow their record. A record no identity event has placed yet holds its items until one does, so the
  two topics may arrive in either order.
- After an assessment or referral changes, or identity moves records, the affected persons (for a move, the
  record's new person and the one it left) are checked for repeat assessments
  (:mod:`joinedup.projections.alerts.detector`, which judges every pair from the items' status histories as
  of the trigger's time, so the alerts do not depend on the order in which items and identity placements
  arrived); each new (trigger root, earlier) pair becomes one ``RepeatAssessmentDetected`` for the agency that
  asked for the new assessment. Its ``occurred_at`` (and the stored ``detected_at``) is the trigger's time;
  ``recorded_at`` is the input's that revealed it (its Kafka timestamp when the caller passes it, else the
  event's own ``recorded_at``), and its causation id that input's event id. A pair already alerted is never
  published again; its stored row follows the root's first trigger if an earlier one becomes known, and is
  marked as no longer holding (not shown) when the items as they stand no longer make it a repeat (a change
  dated before the trigger but reported after it, a split), so the view is a function of the items alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for, event_id_for
from joinedup.contract.models.alerts import AssessmentOccurrence, RepeatAssessmentDetected
from joinedup.contract.models.event import Event
from joinedup.contract.models.identity import PersonCreated, PersonsMerged, PersonSplit, RecordLinked
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
from joinedup.contract.models.shared_records import PersonRecord, RecordRef
from joinedup.contract.vocabularies import AssessmentTypes, vocabularies
from joinedup.projections.alerts.detector import (
    Occurrence,
    RepeatFinding,
    StatusAt,
    can_be_earlier,
    find_repeats,
)
from joinedup.projections.person_view import lifecycle as lc
from joinedup.projections.person_view.read_model import SourceRecord, StatusChange
from joinedup.projections.person_view.store import (
    AlertRow,
    ItemRow,
    OccurrenceChange,
    PersonViewStore,
    RecordKey,
    as_utc,
)

AssessmentEvent = AssessmentScheduled | AssessmentStarted | AssessmentCompleted | AssessmentCancelled
Affected = tuple[str, frozenset[str] | None]
"""A person to check for repeats, and the assessment types to compare (None: all)."""
ReferralStatusEvent = ReferralAccepted | ReferralDeclined | ReferralWithdrawn | ReferralClosed

_ASSESSMENT_STATUS: dict[type[Event], str] = {
    AssessmentScheduled: lc.SCHEDULED,
    AssessmentStarted: lc.STARTED,
    AssessmentCompleted: lc.COMPLETED,
    AssessmentCancelled: lc.CANCELLED,
}


def _referral_status(event: ReferralStatusEvent) -> tuple[str, datetime]:
    if isinstance(event, ReferralAccepted):
        return lc.ACCEPTED, event.accepted_at
    if isinstance(event, ReferralDeclined):
        return lc.DECLINED, event.declined_at
    if isinstance(event, ReferralWithdrawn):
        return lc.WITHDRAWN, event.withdrawn_at
    return lc.CLOSED, event.closed_at


def _source_record(agency: str, subject: PersonRecord) -> SourceRecord:
    return SourceRecord(
        agency=agency,
        local_person_id=subject.local_person_id,
        nhs_number=subject.nhs_number,
        ni_number=subject.ni_number,
        given_names=subject.given_names,
        family_name=subject.family_name,
        date_of_birth=subject.date_of_birth,
        postcode=subject.postcode,
    )


def _union(a: Sequence[str], b: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted({*a, *b}))


class PersonViewProjector:
    """Applies canonical events to a :class:`PersonViewStore`; returns the alerts they raise."""

    def __init__(self, store: PersonViewStore, assessment_types: AssessmentTypes | None = None) -> None:
        self.store = store
        self.types = assessment_types or vocabularies().assessment_types
        self._equivalent: dict[str, tuple[str, ...]] = {
            t.code: tuple(sorted(o.code for o in self.types.codes if o.group == t.group))
            for t in self.types.codes
        }

    # ------------------------------------------------------------------ entry points
    def apply_all(self, events: Iterable[Event]) -> list[RepeatAssessmentDetected]:
        """Apply events in order (one batch: the caller holds the transaction)."""
        alerts: list[RepeatAssessmentDetected] = []
        for event in events:
            alerts.extend(self.apply(event))
        return alerts

    def apply(self, event: Event, recorded_at: datetime | None = None) -> list[RepeatAssessmentDetected]:
        """Apply one event (nothing if its id was applied before); ``recorded_at`` is when joinedup learned
        of it (the input's Kafka timestamp), used for the alerts it raises."""
        if not self.store.mark_processed(str(event.envelope.event_id)):
            return []
        affected = self._fold(event)
        if not affected:
            return []
        alerts: list[RepeatAssessmentDetected] = []
        for person_id, types in affected:
            alerts.extend(self._detect(person_id, types, event, recorded_at or event.envelope.recorded_at))
        return alerts

    # ------------------------------------------------------------------ folding
    def _fold(self, event: Event) -> list[Affected]:
        """Change the state; return the persons to check for repeats, and which assessment types (those
        equivalent to the changed item's; None: every type, after identity moved records)."""
        if isinstance(event, ReferralReceived):
            return self._referral_received(event)
        if isinstance(event, ReferralStatusEvent):
            return self._referral_status_changed(event)
        if isinstance(event, AssessmentEvent):
            return self._assessment(event)
        if isinstance(event, ContactRecorded):
            self._contact(event)
            return []
        if isinstance(event, PersonCreated | RecordLinked):
            moved = self._place((event.record.agency, event.record.local_person_id), event.person_id)
            return [(p, None) for p in sorted(moved)]
        if isinstance(event, PersonsMerged):
            for absorbed in sorted(event.absorbed_person_ids):
                if absorbed != event.person_id:
                    self.store.absorb(event.person_id, absorbed)
            return [(event.person_id, None)]
        if isinstance(event, PersonSplit):
            persons = {event.person_id}
            for move in event.moves:
                persons |= self._place((move.record.agency, move.record.local_person_id), move.to_person_id)
            return [(p, None) for p in sorted(persons)]
        return []  # MatchReviewRequested and anything else: nothing to show

    def _place(self, key: RecordKey, person_id: str) -> set[str]:
        """Place the record in the person; the persons it touched (that one, and the one it left)."""
        left = self.store.person_of_record(*key)
        self.store.place_record(key, person_id)
        return {person_id} if left is None else {person_id, left}

    def _save_identifiers(self, agency: str, subject: PersonRecord, at: datetime, event: Event) -> RecordKey:
        record = _source_record(agency, subject)
        self.store.save_identifiers(record, (as_utc(at), str(event.envelope.event_id)))
        return (agency, subject.local_person_id)

    def _placed(self, key: RecordKey, assessment_type: str) -> list[Affected]:
        """The record's person (if placed) and the types equivalent to ``assessment_type`` (none if the
        vocabulary does not know it: then nothing is compared)."""
        person = self.store.person_of_record(*key)
        types = self._equivalent.get(assessment_type)
        return [(person, frozenset(types))] if person is not None and types else []

    def _referral_received(self, event: ReferralReceived) -> list[Affected]:
        key = self._save_identifiers(event.referring_agency, event.subject, event.referred_at, event)
        item_id = lc.item_id_for(lc.REFERRAL, event.referring_agency, event.referral_ref)
        self.store.put_item(
            ItemRow(
                item_id=item_id,
                kind=lc.REFERRAL,
                agency=event.referring_agency,
                ref=event.referral_ref,
                record=key,
                type=event.requested_assessment_type or lc.REFERRAL,
                occurred_at=as_utc(event.referred_at),
                data_categories=tuple(sorted(set(event.data_categories))),
                related_refs=(),
                counterpart_agency=event.to_agency,
                root=item_id,
            )
        )
        change = StatusChange(
            status=lc.RECEIVED, at=as_utc(event.referred_at), event_id=str(event.envelope.event_id)
        )
        self.store.add_status(item_id, change)
        return self._placed(key, event.requested_assessment_type) if event.requested_assessment_type else []

    def _referral_status_changed(self, event: ReferralStatusEvent) -> list[Affected]:
        item_id = lc.item_id_for(lc.REFERRAL, event.referring_agency, event.referral_ref)
        status, at = _referral_status(event)
        self.store.add_status(
            item_id, StatusChange(status=status, at=as_utc(at), event_id=str(event.envelope.event_id))
        )
        row = self.store.item(item_id)
        if row is None or row.type == lc.REFERRAL:
            return []  # waits for its ReferralReceived, or requests no assessment
        return self._placed(row.record, row.type)

    def _assessment(self, event: AssessmentEvent) -> list[Affected]:
        key = self._save_identifiers(event.agency, event.subject, event.occurred_at, event)
        item_id = lc.item_id_for(lc.ASSESSMENT, event.agency, event.assessment_ref)
        link = event.referral
        related = (lc.ref_of(link.agency, link.referral_ref),) if link is not None else ()
        root = lc.item_id_for(lc.REFERRAL, link.agency, link.referral_ref) if link is not None else item_id
        at = as_utc(event.occurred_at)
        row = ItemRow(
            item_id=item_id,
            kind=lc.ASSESSMENT,
            agency=event.agency,
            ref=event.assessment_ref,
            record=key,
            type=event.assessment_type,
            occurred_at=at,
            data_categories=tuple(sorted(set(event.data_categories))),
            related_refs=related,
            counterpart_agency=None,
            root=root,
        )
        existing = self.store.item(item_id)
        if existing is not None:  # record and type stay those of the first report applied; the rest adds up
            roots = {existing.root, root} - {item_id}
            row = replace(
                row,
                record=existing.record,
                type=existing.type,
                occurred_at=min(existing.occurred_at, at),
                data_categories=_union(existing.data_categories, row.data_categories),
                related_refs=_union(existing.related_refs, related),
                root=min(roots) if roots else item_id,
            )
        self.store.put_item(row)
        status = _ASSESSMENT_STATUS[type(event)]
        self.store.add_status(
            item_id, StatusChange(status=status, at=at, event_id=str(event.envelope.event_id))
        )
        return self._placed(row.record, row.type)

    def _contact(self, event: ContactRecorded) -> None:
        key = self._save_identifiers(event.agency, event.subject, event.occurred_at, event)
        item_id = lc.item_id_for(lc.CONTACT, event.agency, event.contact_ref)
        own = lc.ref_of(event.agency, event.contact_ref)
        self.store.put_item(
            ItemRow(
                item_id=item_id,
                kind=lc.CONTACT,
                agency=event.agency,
                ref=event.contact_ref,
                record=key,
                type=event.contact_type,
                occurred_at=as_utc(event.occurred_at),
                data_categories=tuple(sorted(set(event.data_categories))),
                related_refs=tuple(sorted(set(event.related_refs) - {own})),
                counterpart_agency=None,
                root=item_id,
            )
        )
        change = StatusChange(
            status=lc.RECORDED, at=as_utc(event.occurred_at), event_id=str(event.envelope.event_id)
        )
        self.store.add_status(item_id, change)

    # ------------------------------------------------------------------ detection
    def occurrences(self, person_id: str, types: frozenset[str] | None = None) -> list[Occurrence]:
        """The person's assessments and assessment-requesting referrals (of ``types``, or any), each with
        its status history in lifecycle order, as the detector sees them."""
        changes: dict[str, list[OccurrenceChange]] = {}
        for change in self.store.occurrence_changes(person_id, sorted(types) if types is not None else None):
            changes.setdefault(change.item_id, []).append(change)
        found: list[Occurrence] = []
        for item_id in sorted(changes):
            history = sorted(changes[item_id], key=lc.change_order)
            first = history[0]
            found.append(
                Occurrence(
                    item_id=item_id,
                    root=first.root,
                    kind=first.kind,
                    agency=first.agency,
                    ref=first.ref,
                    assessment_type=first.type,
                    occurred_at=first.occurred_at,
                    history=tuple(StatusAt(status=c.status, at=c.at) for c in history),
                )
            )
        return found

    def _detect(
        self, person_id: str, types: frozenset[str] | None, cause: Event, recorded_at: datetime
    ) -> list[RepeatAssessmentDetected]:
        # person_id is a placed record's person, or an identity event's person: a current id
        occurrences = self.occurrences(person_id, types)
        earlier_ids = [o.item_id for o in occurrences if can_be_earlier(o)]
        stored = {(r.trigger_root, r.earlier_item_id): r for r in self.store.alerts_of_earlier(earlier_ids)}
        findings = find_repeats(occurrences, self.types)
        found = {finding.pair for finding in findings}
        for pair, gone in sorted(stored.items()):
            if gone.holds and pair not in found:  # the items as they stand: no longer a repeat
                self.store.save_alert(replace(gone, holds=False))
        alerts: list[RepeatAssessmentDetected] = []
        for finding in findings:
            kept = stored.get(finding.pair)
            row = AlertRow(
                alert_id=kept.alert_id if kept is not None else finding.alert_id,
                trigger_root=finding.trigger.root,
                trigger_item_id=finding.trigger.item_id,
                earlier_item_id=finding.earlier.item_id,
                requesting_agency=finding.trigger.agency,
                equivalence_group=finding.equivalence_group,
                detected_at=as_utc(finding.detected_at),
            )
            if kept == row:
                continue
            self.store.save_alert(row)
            if kept is None:
                alerts.append(self._alert_event(person_id, finding, cause, row.detected_at, recorded_at))
        return alerts

    def _alert_event(
        self,
        person_id: str,
        finding: RepeatFinding,
        cause: Event,
        detected_at: datetime,
        recorded_at: datetime,
    ) -> RepeatAssessmentDetected:
        trigger_row = self.store.item(finding.trigger.item_id)
        subject = (
            RecordRef(agency=trigger_row.record[0], local_person_id=trigger_row.record[1])
            if trigger_row is not None
            else None
        )
        envelope = envelope_for(
            RepeatAssessmentDetected,
            event_id=event_id_for("RepeatAssessmentDetected", finding.alert_id),
            occurred_at=detected_at,
            recorded_at=as_utc(recorded_at),
            source_agency=JOINEDUP_SOURCE,
            correlation_id=cause.envelope.correlation_id,
            causation_id=cause.envelope.event_id,
            subject=subject,
        )
        return RepeatAssessmentDetected(
            envelope=envelope,
            alert_id=finding.alert_id,
            person_id=person_id,
            to_agency=finding.trigger.agency,
            trigger=_occurrence(finding.trigger, finding.trigger_status),
            earlier=(_occurrence(finding.earlier, finding.earlier_status),),
            equivalence_group=finding.equivalence_group,
        )


def _occurrence(occurrence: Occurrence, status: str) -> AssessmentOccurrence:
    return AssessmentOccurrence(
        kind=occurrence.kind,
        agency=occurrence.agency,
        ref=occurrence.ref,
        assessment_type=occurrence.assessment_type,
        status=status,
        occurred_at=occurrence.occurred_at,
    )
