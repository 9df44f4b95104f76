"""Fakes for the query API: a read model, a decision point with a sharing policy, a consent trail, and a
harness that wires them with an in-memory audit log into a TestClient."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from joinedup.projections.api.app import ApiDependencies, create_app
from joinedup.projections.api.auth import Principal, TokenBook
from joinedup.projections.api.consent_trail import ConsentTrail, ConsentTrailUnavailableError, TrailEntry
from joinedup.projections.api.decisions import DecisionAnswer, DecisionQuestion
from joinedup.projections.audit.chain import AccessDraft
from joinedup.projections.audit.recorder import AuditUnavailableError, InMemoryAuditLog
from joinedup.projections.person_view.read_model import (
    Alert,
    PersonSearch,
    PersonView,
    SourceRecord,
    StatusChange,
    ViewItem,
    found_views,
)

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
NHS = "9434765919"
FAMILY_NAME = "Okonkwo-Smythe"

TOKENS = {
    "cw-asc": Principal(agency="council-asc", user="cw-4411", role="caseworker"),
    "cw-police": Principal(agency="police", user="cw-0007", role="caseworker"),
    "cw-housing": Principal(agency="council-housing", user="cw-9001", role="caseworker"),
    "dpo-asc": Principal(agency="council-asc", user="dpo-01", role="dpo"),
    "admin": Principal(agency="council-asc", user="ops-1", role="admin"),
}


def headers(token: str = "cw-asc", purpose: str | None = "care-coordination", **extra: str) -> dict[str, str]:
    found = {"Authorization": f"Bearer {token}"}
    if purpose is not None:
        found["X-Purpose"] = purpose
    found.update(extra)
    return found


def item(
    kind: str,
    agency: str,
    ref: str,
    categories: Sequence[str],
    *,
    days: int = 0,
    record: tuple[str, str] | None = None,
    statuses: Sequence[str] = ("recorded",),
) -> ViewItem:
    at = T0 + timedelta(days=days)
    history = tuple(
        StatusChange(status=s, at=at + timedelta(hours=n), event_id=f"ev-{agency}-{ref}-{n}")
        for n, s in enumerate(statuses)
    )
    return ViewItem(
        item_id=f"{kind}:{agency}/{ref}",
        kind=kind,
        owner_agency=agency,
        record=record or (agency, f"{agency}-local"),
        type="police-call-out" if kind == "contact" else "care-act-needs",
        status=statuses[-1],
        occurred_at=at,
        data_categories=tuple(categories),
        references=(ref,),
        history=history,
        source_event_ids=tuple(h.event_id for h in history),
    )


def source(agency: str, local: str | None = None, **fields: object) -> SourceRecord:
    return SourceRecord.model_validate(
        {"agency": agency, "local_person_id": local or f"{agency}-local", **fields}
    )


def person_one() -> PersonView:
    """Known to council-asc, police and the mental health trust; a repeat alert to council-asc."""
    items = (
        item("referral", "council-asc", "ASC-1", ["social-care"], days=0, statuses=("received", "accepted")),
        item("contact", "police", "CAD-9", ["criminal-justice"], days=1),
        item("assessment", "nhs-mh-trust", "MH-3", ["mental-health", "health"], days=2),
        item("contact", "police", "CAD-10", ["criminal-justice"], days=3),
    )
    return PersonView(
        person_id="p-1",
        records=(
            source(
                "council-asc",
                nhs_number=NHS,
                family_name=FAMILY_NAME,
                given_names="Ada",
                date_of_birth=date(1990, 1, 2),
            ),
            source("nhs-mh-trust", nhs_number=NHS, family_name=FAMILY_NAME),
            source("police", family_name=FAMILY_NAME),
        ),
        items=tuple(sorted(items, key=lambda i: (i.occurred_at, i.item_id))),
        alerts=(
            Alert(
                alert_id="alert-1",
                requesting_agency="council-asc",
                assessment_item_id="referral:council-asc/ASC-1",
                earlier_item_ids=("assessment:nhs-mh-trust/MH-3",),
                equivalence_group="adult-needs",
                detected_at=T0 + timedelta(days=3),
            ),
            Alert(
                alert_id="alert-2",
                requesting_agency="police",
                assessment_item_id="contact:police/CAD-9",
                earlier_item_ids=(),
                equivalence_group="x",
                detected_at=T0,
            ),
        ),
    )


def person_two() -> PersonView:
    """Known to the police only."""
    return PersonView(
        person_id="p-2",
        records=(source("police", "POL-2", family_name=FAMILY_NAME),),
        items=(item("contact", "police", "CAD-77", ["criminal-justice"], days=5),),
        alerts=(),
    )


class FakeReader:
    def __init__(self, views: Iterable[PersonView], aliases: dict[str, str] | None = None) -> None:
        self.views = {v.person_id: v for v in views}
        self.aliases = aliases or {}
        self.searches: list[PersonSearch] = []

    def resolve_person_id(self, person_id: str) -> str | None:
        found = self.aliases.get(person_id, person_id)
        return found if found in self.views else None

    def person(self, person_id: str) -> PersonView | None:
        found = self.resolve_person_id(person_id)
        return self.views[found] if found is not None else None

    def person_of_record(self, agency: str, local_person_id: str) -> str | None:
        for view in self.views.values():
            if any(r.agency == agency and r.local_person_id == local_person_id for r in view.records):
                return view.person_id
        return None

    def find_persons(self, search: PersonSearch, limit: int = 20) -> list[str]:
        self.searches.append(search)
        return sorted(
            v.person_id
            for v in self.views.values()
            if any(
                r.family_name == search.family_name or r.nhs_number == search.nhs_number for r in v.records
            )
        )[:limit]

    def find_views(self, search: PersonSearch, limit: int = 20) -> list[PersonView]:
        return found_views(self, search, limit)


class PolicyDecisions:
    """Permits (owner, recipient, purpose, category) listed in ``agreements`` (basis agreement) and anything
    with a break-glass justification; records every batch asked."""

    def __init__(self, agreements: Iterable[tuple[str, str, str, str]] = ()) -> None:
        self.agreements = set(agreements)
        self.batches: list[list[DecisionQuestion]] = []
        self.error: Exception | None = None

    async def decide(self, questions: Sequence[DecisionQuestion]) -> list[DecisionAnswer]:
        self.batches.append(list(questions))
        if self.error is not None:
            raise self.error
        return [self._one(q) for q in questions]

    def _one(self, q: DecisionQuestion) -> DecisionAnswer:
        if q.break_glass_justification:
            return DecisionAnswer(permit=True, basis_kind="break_glass", lawful_basis="break-glass")
        if (q.owner, q.recipient, q.purpose, q.category) in self.agreements:
            return DecisionAnswer(
                permit=True, basis_kind="agreement", basis_id="isa-7", lawful_basis="public-task"
            )
        return DecisionAnswer(permit=False, basis_kind="none", reason="no-basis")


class FakeTrail:
    def __init__(self) -> None:
        self.asked: list[list[str]] = []
        self.failing = False

    def trail(self, records: Sequence[object]) -> ConsentTrail:
        if self.failing:
            raise ConsentTrailUnavailableError("down")
        refs = [f"{r.agency}/{r.local_person_id}" for r in records]  # type: ignore[attr-defined]
        self.asked.append(refs)
        return ConsentTrail(
            subject_records=list(records),  # type: ignore[arg-type]
            entries=[
                TrailEntry(at=T0, action="given", ref="st-1", version=1, event={"statement_id": "st-1"}),
            ],
        )


class FlakyAuditLog(InMemoryAuditLog):
    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    async def append(self, drafts: Sequence[AccessDraft]) -> list:  # type: ignore[type-arg]
        if self.failing:
            raise AuditUnavailableError("broker down")
        return await super().append(drafts)


class Harness:
    def __init__(self, views: Iterable[PersonView] | None = None, **reader_options: dict[str, str]) -> None:
        self.reader = FakeReader(
            views if views is not None else [person_one(), person_two()], **reader_options
        )
        self.decisions = PolicyDecisions()
        self.audit = FlakyAuditLog()
        self.trail = FakeTrail()
        ids = iter(range(1_000_000))
        self.client = TestClient(
            create_app(
                ApiDependencies(
                    reader=self.reader,
                    decisions=self.decisions,
                    audit=self.audit,
                    audit_reader=self.audit,
                    consent_trail=self.trail,
                    tokens=TokenBook(TOKENS),
                    clock=lambda: NOW,
                    new_request_id=lambda: f"req-{next(ids)}",
                )
            )
        )

    def allow(self, owner: str, recipient: str, purpose: str, category: str) -> None:
        self.decisions.agreements.add((owner, recipient, purpose, category))

    headers = staticmethod(headers)


class Builders:
    """The view builders, for tests (conftest modules cannot be imported under importlib mode)."""

    item = staticmethod(item)
    source = staticmethod(source)
    person_one = staticmethod(person_one)
    person_two = staticmethod(person_two)
    NOW = NOW
    NHS = NHS
    FAMILY_NAME = FAMILY_NAME


@pytest.fixture
def api() -> Harness:
    return Harness()


@pytest.fixture
def make_api() -> type[Harness]:
    return Harness


@pytest.fixture
def build() -> type[Builders]:
    return Builders
