"""Identity resolution events on ``joinedup.identity.events``, and the human assertions the resolver honours
(``joinedup.identity.assertions``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event
from joinedup.contract.models.shared_records import RecordRef


class LinkEvidence(AvroRecord):
    """One pairwise link: which rule, score or assertion joined two records, and which fields agreed."""

    avro_name: ClassVar[str] = "joinedup.identity.LinkEvidence"
    record: RecordRef
    linked_to: RecordRef
    rule: str | None = None
    score: float | None = None
    agreed_fields: tuple[str, ...]
    asserted_by: str | None = None
    reason: str | None = None


class MatchReviewRequested(Event):
    """Two records might be one person but the model will not decide: a human should."""

    avro_name: ClassVar[str] = "joinedup.identity.MatchReviewRequested"
    model_version: str
    record: RecordRef
    candidate: RecordRef
    person_id: str | None = None
    candidate_person_id: str | None = None
    score: float | None = None
    reason_code: str
    agreed_fields: tuple[str, ...]
    disagreed_fields: tuple[str, ...]


class PersonCreated(Event):
    """A person came to exist, founded by a source record that matched no existing person."""

    avro_name: ClassVar[str] = "joinedup.identity.PersonCreated"
    model_version: str
    person_id: str
    record: RecordRef


class PersonsMerged(Event):
    """Persons were found to be one: the oldest survives, the others are absorbed (ids stay resolvable)."""

    avro_name: ClassVar[str] = "joinedup.identity.PersonsMerged"
    model_version: str
    person_id: str
    absorbed_person_ids: tuple[str, ...]
    bridging_links: tuple[LinkEvidence, ...]
    asserted_by: str | None = None
    reason: str | None = None


class RecordLinked(Event):
    """A source record now belongs to a person, held there by the evidence."""

    avro_name: ClassVar[str] = "joinedup.identity.RecordLinked"
    model_version: str
    person_id: str
    record: RecordRef
    evidence: LinkEvidence


class RecordMove(AvroRecord):
    """A record moved to another person by a split."""

    avro_name: ClassVar[str] = "joinedup.identity.RecordMove"
    record: RecordRef
    to_person_id: str


class PersonSplit(Event):
    """Records left a person (a link was undone); where each went and why are kept."""

    avro_name: ClassVar[str] = "joinedup.identity.PersonSplit"
    model_version: str
    person_id: str
    moves: tuple[RecordMove, ...]
    reason_code: str
    asserted_by: str | None = None
    reason: str | None = None


class DifferentPersonsAsserted(Event):
    """A caseworker or DPO asserted that two source records are different people (a must-not-link)."""

    avro_name: ClassVar[str] = "joinedup.identity.DifferentPersonsAsserted"
    assertion_id: str
    first: RecordRef
    second: RecordRef
    asserted_by: str
    reason: str
    asserted_at: AwareDatetime


class SamePersonAsserted(Event):
    """A caseworker or DPO asserted that two source records are the same person (a must-link)."""

    avro_name: ClassVar[str] = "joinedup.identity.SamePersonAsserted"
    assertion_id: str
    first: RecordRef
    second: RecordRef
    asserted_by: str
    reason: str
    asserted_at: AwareDatetime
