"""What the query API returns (what /docs shows). Records are shown by reference (agency and local id) only:
the identifiers the projection keeps for search never leave it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from joinedup.contract.models.audit import AccessRecorded
from joinedup.projections.api.consent_trail import ConsentTrail
from joinedup.projections.api.enforcement import Basis, DisclosedViewItem, Disclosure, VisibleAlert

_OUT = ConfigDict(frozen=True, extra="forbid")


class RecordOut(BaseModel):
    """A source record linked to the person: the agency and its own id for them."""

    model_config = _OUT

    agency: str
    local_person_id: str


class BasisOut(BaseModel):
    """Why a category of an item was disclosed: ``kind`` (own-record, consent, agreement, statutory,
    break_glass), the lawful basis ``code`` and the statement or agreement relied on (``ref``)."""

    model_config = _OUT

    category: str
    kind: str
    code: str
    ref: str | None = None

    @classmethod
    def of(cls, basis: Basis) -> BasisOut:
        return cls(category=basis.category, kind=basis.kind, code=basis.code, ref=basis.ref)


class ItemOut(BaseModel):
    """A referral, assessment or contact the caller may see."""

    model_config = _OUT

    item_id: str
    agency: str
    kind: str
    type: str
    status: str
    occurred_at: datetime
    references: list[str]
    counterpart_agency: str | None = None
    bases: list[BasisOut]

    @classmethod
    def of(cls, disclosed: DisclosedViewItem) -> ItemOut:
        item = disclosed.item
        return cls(
            item_id=item.item_id,
            agency=item.owner_agency,
            kind=item.kind,
            type=item.type,
            status=item.status,
            occurred_at=item.occurred_at,
            references=list(item.references),
            counterpart_agency=item.counterpart_agency,
            bases=[BasisOut.of(b) for b in disclosed.bases],
        )


class AlertOut(BaseModel):
    """An open repeat-assessment alert addressed to the caller's agency. ``earlier_item_ids``: the earlier
    assessments the caller may see; ``earlier_withheld``: how many others there are."""

    model_config = _OUT

    alert_id: str
    assessment_item_id: str
    equivalence_group: str
    detected_at: datetime
    earlier_item_ids: list[str]
    earlier_withheld: int

    @classmethod
    def of(cls, visible: VisibleAlert) -> AlertOut:
        return cls(
            alert_id=visible.alert.alert_id,
            assessment_item_id=visible.alert.assessment_item_id,
            equivalence_group=visible.alert.equivalence_group,
            detected_at=visible.alert.detected_at,
            earlier_item_ids=list(visible.earlier_item_ids),
            earlier_withheld=visible.earlier_withheld,
        )


class PersonViewOut(BaseModel):
    """One person as the caller may see them; ``withheld`` items exist but have no basis for this caller."""

    model_config = _OUT

    person_id: str
    records: list[RecordOut]
    items: list[ItemOut]
    alerts: list[AlertOut]
    withheld: int
    break_glass: bool

    @classmethod
    def of(cls, disclosure: Disclosure, break_glass: bool) -> PersonViewOut:
        return cls(
            person_id=disclosure.person_id,
            records=[_record(v.record.agency, v.record.local_person_id) for v in disclosure.records],
            items=[ItemOut.of(d) for d in disclosure.items],
            alerts=[AlertOut.of(a) for a in disclosure.alerts],
            withheld=disclosure.withheld,
            break_glass=break_glass,
        )


class TimelineEntryOut(BaseModel):
    """One status change of a visible item, with the canonical event it comes from."""

    model_config = _OUT

    at: datetime
    item_id: str
    agency: str
    kind: str
    type: str
    status: str
    event_id: str


class TimelineOut(BaseModel):
    """The multi-agency chronology: every status change of every visible item, oldest first."""

    model_config = _OUT

    person_id: str
    entries: list[TimelineEntryOut]
    withheld: int
    break_glass: bool

    @classmethod
    def of(cls, disclosure: Disclosure, break_glass: bool) -> TimelineOut:
        entries = [
            TimelineEntryOut(
                at=change.at,
                item_id=d.item.item_id,
                agency=d.item.owner_agency,
                kind=d.item.kind,
                type=d.item.type,
                status=change.status,
                event_id=change.event_id,
            )
            for d in disclosure.items
            for change in d.item.history
        ]
        entries.sort(key=lambda e: (e.at, e.item_id, e.event_id))
        return cls(
            person_id=disclosure.person_id,
            entries=entries,
            withheld=disclosure.withheld,
            break_glass=break_glass,
        )


class PersonMatchOut(BaseModel):
    """A person the search matched and the caller has a basis to see, with the records it may see."""

    model_config = _OUT

    person_id: str
    records: list[RecordOut]

    @classmethod
    def of(cls, disclosure: Disclosure) -> PersonMatchOut:
        return cls(
            person_id=disclosure.person_id,
            records=[_record(v.record.agency, v.record.local_person_id) for v in disclosure.records],
        )


class SearchOut(BaseModel):
    model_config = _OUT

    persons: list[PersonMatchOut]
    break_glass: bool


class RecordPersonOut(BaseModel):
    """The person one of the caller's agency's records belongs to."""

    model_config = _OUT

    person_id: str
    record: RecordOut


class AuditPageOut(BaseModel):
    """Access audit records matching a DPO's query, in chain order."""

    model_config = _OUT

    records: list[AccessRecorded]


class ConsentTrailOut(BaseModel):
    """A person's consent trail, as the consent service reports it for their records."""

    model_config = _OUT

    person_id: str
    trail: ConsentTrail


class NotFoundOut(BaseModel):
    """The one body of every 404 (an unknown person and one the caller has no basis for look the same)."""

    model_config = _OUT

    detail: str


def _record(agency: str, local_person_id: str) -> RecordOut:
    return RecordOut(agency=agency, local_person_id=local_person_id)
