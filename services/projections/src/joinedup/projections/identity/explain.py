"""Why a record sits in its person, and the record-to-person export (``joinedup identity explain|export``).

Both show record references, field names and scores only: never names, numbers or dates of birth.
"""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel, ConfigDict

from joinedup.projections.identity.links import TIER_ASSERTED, Link
from joinedup.projections.identity.records import RecordKey, RecordRef
from joinedup.projections.identity.store import IdentityStore

EXPORT_HEADER = ("agency", "local_person_id", "person_id")


class LinkExplanation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    linked_to: RecordRef
    rule: str | None
    score: float | None
    agreed_fields: tuple[str, ...]
    holds: bool
    """True when this link is one of those that hold the person together (the spanning tree)."""
    asserted_by: str | None = None
    reason: str | None = None


class AssertionExplanation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    other: RecordRef
    kind: str
    asserted_by: str
    reason: str
    assertion_id: str


class RecordExplanation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record: RecordRef
    person_id: str | None
    members: tuple[RecordRef, ...]
    links: tuple[LinkExplanation, ...]
    assertions: tuple[AssertionExplanation, ...]


class UnknownRecordError(LookupError):
    pass


def explain(store: IdentityStore, key: RecordKey) -> RecordExplanation:
    """The record's person, its fellow records, and the links (with evidence) that hold it there."""
    if store.get_record(key) is None:
        raise UnknownRecordError(f"no record {key.label()}")
    person_id = store.person_of(key)
    person = store.get_person(person_id) if person_id is not None else None
    members = person.members if person is not None else (key,)
    holding = {link.pair for link in person.holding} if person is not None else set()
    inside = set(members)
    links: list[tuple[tuple[bool, int, float, RecordKey], LinkExplanation]] = []
    incident: list[Link] = [link for link in (person.holding if person else ()) if key in link.pair]
    for other, link in sorted(store.links_of(key).items()):
        if other in inside and link.pair not in holding:
            incident.append(link)
    for link in incident:
        held = link.pair in holding
        explanation = LinkExplanation(
            linked_to=RecordRef.of(link.other(key)),
            rule=link.rule,
            score=None if link.tier == TIER_ASSERTED else link.score,
            agreed_fields=link.agreed_fields,
            holds=held,
            asserted_by=link.asserted_by,
            reason=link.reason,
        )
        links.append(((not held, link.tier, -link.score, link.other(key)), explanation))
    assertions = tuple(
        AssertionExplanation(
            other=RecordRef.of(other),
            kind=assertion.kind,
            asserted_by=assertion.asserted_by,
            reason=assertion.reason,
            assertion_id=assertion.assertion_id,
        )
        for other, assertion in sorted(store.assertions_of(key).items())
    )
    return RecordExplanation(
        record=RecordRef.of(key),
        person_id=person_id,
        members=tuple(RecordRef.of(m) for m in members),
        links=tuple(e for _, e in sorted(links, key=lambda item: item[0])),
        assertions=assertions,
    )


def export_rows(store: IdentityStore) -> list[tuple[str, str, str]]:
    """(agency, local_person_id, person_id) for every record that has a person, sorted."""
    rows = []
    for key in sorted(store.record_keys()):
        person_id = store.person_of(key)
        if person_id is not None:
            rows.append((key.agency, key.local_person_id, person_id))
    return rows


def export_csv(store: IdentityStore) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    writer.writerows(export_rows(store))
    return buffer.getvalue()
