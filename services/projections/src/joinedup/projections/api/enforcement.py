"""What a caller may see of a person (pure): the decision questions a view raises, and the disclosure that
the answers allow.

- An item of the caller's own agency is always visible (basis ``own-record``).
- An item of another agency is disclosed only if every data category it carries is permitted for the caller's
  agency and purpose; an item that names no category is treated as ``identity`` (the least it reveals is that
  the agency knows the person). Anything else is withheld and only counted.
- The decision for an item depends on (person, owner agency, category) alone (the recipient, purpose, time
  and justification are the request's), so a request asks one question per such key, in a fixed order.
- A record is visible if it is the caller's agency's own, or its agency has a disclosed item.
- An alert is shown to the agency it is addressed to, with the earlier items the caller may see; the others
  are only counted.
- A person with no visible record and no disclosed item is one the caller has no basis for at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from joinedup.contract.models.audit import DisclosedItem
from joinedup.projections.api.decisions import DecisionAnswer, DecisionQuestion, SubjectRecord
from joinedup.projections.audit.chain import Outcome
from joinedup.projections.person_view.read_model import Alert, PersonView, SourceRecord, ViewItem

OWN_RECORD = "own-record"
UNCATEGORISED = "identity"
"""The category an item that names none is treated as."""

_BASIS_CODE = {
    "consent": "consent",
    "agreement": "agreement",
    "break_glass": "break-glass",
    "own-record": OWN_RECORD,
}

QuestionKey = tuple[str, str, str]
"""(person_id, owner agency, data category)."""


@dataclass(frozen=True)
class Ask:
    """The request's side of every question: who asks, why, when, and any break-glass justification."""

    recipient: str
    purpose: str
    at: datetime
    break_glass_justification: str | None = None


@dataclass(frozen=True)
class Basis:
    """Why one category of one item (or a record) was disclosed. ``code`` is a lawful_bases code."""

    category: str
    kind: str
    code: str
    ref: str | None = None


OWN = Basis(category=UNCATEGORISED, kind=OWN_RECORD, code=OWN_RECORD)


@dataclass(frozen=True)
class DisclosedViewItem:
    item: ViewItem
    bases: tuple[Basis, ...]


@dataclass(frozen=True)
class VisibleRecord:
    record: SourceRecord
    basis: Basis


@dataclass(frozen=True)
class VisibleAlert:
    alert: Alert
    earlier_item_ids: tuple[str, ...]
    earlier_withheld: int


@dataclass(frozen=True)
class Disclosure:
    """What one caller may see of one person."""

    person_id: str
    records: tuple[VisibleRecord, ...]
    items: tuple[DisclosedViewItem, ...]
    alerts: tuple[VisibleAlert, ...]
    withheld: int

    @property
    def has_basis(self) -> bool:
        """Whether the caller may know this person at all."""
        return bool(self.records or self.items)

    @property
    def outcome(self) -> Outcome:
        """The audit outcome of showing this disclosure (``denied`` when there is no basis at all)."""
        if not self.has_basis:
            return "denied"
        return "withheld" if self.withheld else "disclosed"

    def audit_records(self) -> tuple[DisclosedItem, ...]:
        """Every record disclosed, with its basis, for the access audit (a search shows records only)."""
        return tuple(
            DisclosedItem(
                item_ref=f"record:{v.record.agency}/{v.record.local_person_id}",
                owner_agency=v.record.agency,
                data_category=UNCATEGORISED,
                basis=v.basis.code,
                basis_ref=v.basis.ref,
            )
            for v in self.records
        )

    def audit_items(self) -> tuple[DisclosedItem, ...]:
        """Every record and every item category disclosed, each with its basis, for the access audit."""
        return self.audit_records() + tuple(
            DisclosedItem(
                item_ref=d.item.item_id,
                owner_agency=d.item.owner_agency,
                data_category=basis.category,
                basis=basis.code,
                basis_ref=basis.ref,
            )
            for d in self.items
            for basis in d.bases
        )


def categories_of(item: ViewItem) -> tuple[str, ...]:
    """The categories the decision is taken on: the item's, sorted, or ``identity`` if it names none."""
    return tuple(sorted(set(item.data_categories))) or (UNCATEGORISED,)


def subject_records(view: PersonView) -> tuple[SubjectRecord, ...]:
    """The person's records, as the consent service names a subject."""
    return tuple(SubjectRecord(agency=r.agency, local_person_id=r.local_person_id) for r in view.records)


def decision_questions(views: Sequence[PersonView], ask: Ask) -> dict[QuestionKey, DecisionQuestion]:
    """One question per (person, owner agency, category) of another agency's items, in a fixed order
    (the views' order, then owner and category). A person without records raises no question (denied)."""
    questions: dict[QuestionKey, DecisionQuestion] = {}
    for view in views:
        subjects = subject_records(view)
        if not subjects:
            continue
        keys = sorted(
            {
                (item.owner_agency, category)
                for item in view.items
                if item.owner_agency != ask.recipient
                for category in categories_of(item)
            }
        )
        for owner, category in keys:
            questions[(view.person_id, owner, category)] = DecisionQuestion(
                subject_records=subjects,
                owner=owner,
                recipient=ask.recipient,
                purpose=ask.purpose,
                category=category,
                at=ask.at,
                break_glass_justification=ask.break_glass_justification,
            )
    return questions


def _basis(category: str, answer: DecisionAnswer) -> Basis:
    code = answer.lawful_basis or _BASIS_CODE.get(answer.basis_kind, answer.basis_kind)
    return Basis(category=category, kind=answer.basis_kind, code=code, ref=answer.basis_id)


def _item_bases(
    view: PersonView, item: ViewItem, ask: Ask, answers: Mapping[QuestionKey, DecisionAnswer]
) -> tuple[Basis, ...] | None:
    """The basis of each category of ``item``, or None if any category is not permitted."""
    if item.owner_agency == ask.recipient:
        return tuple(Basis(category=c, kind=OWN_RECORD, code=OWN_RECORD) for c in categories_of(item))
    bases: list[Basis] = []
    for category in categories_of(item):
        answer = answers.get((view.person_id, item.owner_agency, category))
        if answer is None or not answer.permit or answer.basis_kind == "none":
            return None
        bases.append(_basis(category, answer))
    return tuple(bases)


def disclose(view: PersonView, ask: Ask, answers: Mapping[QuestionKey, DecisionAnswer]) -> Disclosure:
    """What ``ask.recipient`` may see of ``view``, given the answers to its questions (a missing answer
    denies)."""
    items: list[DisclosedViewItem] = []
    withheld = 0
    for item in view.items:
        bases = _item_bases(view, item, ask, answers)
        if bases is None:
            withheld += 1
        else:
            items.append(DisclosedViewItem(item=item, bases=bases))

    first_basis_of_agency: dict[str, Basis] = {}
    for disclosed in items:
        first_basis_of_agency.setdefault(disclosed.item.owner_agency, disclosed.bases[0])
    records: list[VisibleRecord] = []
    for record in view.records:
        if record.agency == ask.recipient:
            records.append(VisibleRecord(record, OWN))
        elif record.agency in first_basis_of_agency:
            basis = first_basis_of_agency[record.agency]
            records.append(VisibleRecord(record, Basis(UNCATEGORISED, basis.kind, basis.code, basis.ref)))

    visible_ids = {d.item.item_id for d in items}
    alerts = tuple(
        VisibleAlert(
            alert=alert,
            earlier_item_ids=tuple(i for i in alert.earlier_item_ids if i in visible_ids),
            earlier_withheld=sum(1 for i in alert.earlier_item_ids if i not in visible_ids),
        )
        for alert in view.alerts
        if alert.requesting_agency == ask.recipient
    )
    return Disclosure(
        person_id=view.person_id,
        records=tuple(records),
        items=tuple(items),
        alerts=alerts,
        withheld=withheld,
    )
