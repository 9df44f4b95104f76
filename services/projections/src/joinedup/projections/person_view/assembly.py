"""Assembling a person's view from the stored rows (pure: the same rows always give the same view).

Contacts are de-duplicated here, among one person's contacts only: two contacts are one real-world contact
when either names the other in ``related_refs`` (``<agency>/<ref>``), transitively. The merged item is owned
by the earliest report, by (occurred_at, agency, ref); its id, record and type are the owner's; references,
data categories, history and source events are the union of every report. Contacts of different persons are
never merged (the police's and the ambulance's records of one incident may be about two people).

An alert is open while it holds (the person's items as they stand still make it a repeat, as of its
trigger's time: :mod:`joinedup.projections.alerts.detector`), its trigger and its earlier assessment both
belong to the person and the trigger has not been cancelled, declined or withdrawn (a referral closed after
it was received still shows: the work was done twice); after a split that separates them it no longer shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from joinedup.projections.person_view.lifecycle import (
    CANCELLED,
    CONTACT,
    DECLINED,
    WITHDRAWN,
    change_order,
    ref_of,
)
from joinedup.projections.person_view.read_model import (
    Alert,
    PersonView,
    SourceRecord,
    StatusChange,
    ViewItem,
)

if TYPE_CHECKING:
    from joinedup.projections.person_view.store import ItemRow, PersonViewStore, RecordKey

CLOSED_TRIGGER_STATUSES = frozenset({CANCELLED, DECLINED, WITHDRAWN})


def sorted_history(changes: Sequence[StatusChange]) -> tuple[StatusChange, ...]:
    return tuple(sorted(changes, key=change_order))


def _single(row: ItemRow, history: tuple[StatusChange, ...]) -> ViewItem:
    return ViewItem(
        item_id=row.item_id,
        kind=row.kind,
        owner_agency=row.agency,
        record=row.record,
        type=row.type,
        status=history[-1].status if history else "",
        occurred_at=row.occurred_at,
        data_categories=row.data_categories,
        references=tuple(sorted({ref_of(row.agency, row.ref), *row.related_refs})),
        counterpart_agency=row.counterpart_agency,
        history=history,
        source_event_ids=tuple(sorted({c.event_id for c in history})),
    )


def _contact_groups(contacts: Sequence[ItemRow]) -> list[list[ItemRow]]:
    """Contacts linked by related refs, transitively (union-find over their ``<agency>/<ref>``)."""
    by_ref = {ref_of(row.agency, row.ref): row for row in contacts}
    parent = {ref: ref for ref in by_ref}

    def root(ref: str) -> str:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    for ref in sorted(by_ref):
        for related in by_ref[ref].related_refs:
            if related in by_ref:
                a, b = root(ref), root(related)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[str, list[ItemRow]] = {}
    for ref in sorted(by_ref):
        groups.setdefault(root(ref), []).append(by_ref[ref])
    return [sorted(g, key=lambda r: (r.occurred_at, r.agency, r.ref)) for _, g in sorted(groups.items())]


def _merged(group: list[ItemRow], histories: dict[str, tuple[StatusChange, ...]]) -> ViewItem:
    owner = group[0]
    history = sorted_history([c for row in group for c in histories.get(row.item_id, ())])
    references = {ref for row in group for ref in (ref_of(row.agency, row.ref), *row.related_refs)}
    return ViewItem(
        item_id=owner.item_id,
        kind=owner.kind,
        owner_agency=owner.agency,
        record=owner.record,
        type=owner.type,
        status=history[-1].status if history else "",
        occurred_at=owner.occurred_at,
        data_categories=tuple(sorted({c for row in group for c in row.data_categories})),
        references=tuple(sorted(references)),
        counterpart_agency=owner.counterpart_agency,
        history=history,
        source_event_ids=tuple(sorted({c.event_id for c in history})),
    )


def assemble_items(
    rows: Sequence[ItemRow], histories: dict[str, list[StatusChange]]
) -> tuple[tuple[ViewItem, ...], dict[str, str]]:
    """The de-duplicated items, sorted by (occurred_at, item_id), and each raw item id's shown item id."""
    sorted_histories = {item_id: sorted_history(changes) for item_id, changes in histories.items()}
    items: list[ViewItem] = []
    shown_as: dict[str, str] = {}
    for row in rows:
        if row.kind != CONTACT:
            items.append(_single(row, sorted_histories.get(row.item_id, ())))
            shown_as[row.item_id] = row.item_id
    for group in _contact_groups([row for row in rows if row.kind == CONTACT]):
        if len(group) == 1:
            item = _single(group[0], sorted_histories.get(group[0].item_id, ()))
        else:
            item = _merged(group, sorted_histories)
        items.append(item)
        for row in group:
            shown_as[row.item_id] = item.item_id
    items.sort(key=lambda i: (i.occurred_at, i.item_id))
    return tuple(items), shown_as


class ViewAssembly:
    """Builds :class:`PersonView` objects from a store's rows."""

    def __init__(self, store: PersonViewStore) -> None:
        self.store = store

    def person(self, person_id: str) -> PersonView | None:
        current = self.store.resolve_person_id(person_id)
        if current is None:
            return None
        records = self.store.records_of(current)
        if not records:
            return None
        return self.view_of(current, records)

    def source_records(self, records: Sequence[RecordKey]) -> tuple[SourceRecord, ...]:
        found = [
            self.store.source_record(key) or SourceRecord(agency=key[0], local_person_id=key[1])
            for key in records
        ]
        return tuple(sorted(found, key=lambda r: (r.agency, r.local_person_id)))

    def items_of(self, records: Sequence[RecordKey]) -> tuple[tuple[ViewItem, ...], dict[str, str]]:
        rows = self.store.items_of(records)
        return assemble_items(rows, self.store.history_of([row.item_id for row in rows]))

    def view_of(self, person_id: str, records: Sequence[RecordKey]) -> PersonView:
        items, shown_as = self.items_of(records)
        status = {item.item_id: item.status for item in items}
        alerts = [
            Alert(
                alert_id=row.alert_id,
                requesting_agency=row.requesting_agency,
                assessment_item_id=row.trigger_item_id,
                earlier_item_ids=(row.earlier_item_id,),
                equivalence_group=row.equivalence_group,
                detected_at=row.detected_at,
            )
            for row in self.store.alerts_triggered_by(sorted(shown_as))
            if row.holds
            and row.earlier_item_id in shown_as
            and status.get(row.trigger_item_id) not in CLOSED_TRIGGER_STATUSES
        ]
        return PersonView(
            person_id=person_id,
            records=self.source_records(records),
            items=items,
            alerts=tuple(sorted(alerts, key=lambda a: a.alert_id)),
        )
