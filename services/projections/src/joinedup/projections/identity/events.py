"""The identity events the resolver emits on ``joinedup.identity.events`` (names fixed by the contract).

Every event carries a deterministic ``event_id`` (UUIDv5 of its coordinates), the id of the input that caused
it, the time of that input (never the wall clock) and the version of the matching model that decided it.
Applying the events in order to an empty map gives the resolver's partition (see membership.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from joinedup.projections.identity.records import RecordRef

# Why a person was split (PersonSplit.reason_code) or a review was asked for (MatchReviewRequested).
SPLIT_RECORD_OBSERVED = "record-observed"
SPLIT_DIFFERENT_PERSONS_ASSERTED = "different-persons-asserted"
SPLIT_SAME_PERSON_ASSERTED = "same-person-asserted"
REVIEW_GREY_BAND = "grey-band"
REVIEW_GIVEN_NAMES_DIFFER = "given-names-differ"
REVIEW_DATE_OF_BIRTH_DIFFERS = "date-of-birth-differs"
REVIEW_STRONG_IDENTIFIER_CONTRADICTED = "strong-identifier-contradicted"
REVIEW_ASSERTED_LINK_REFUSED = "asserted-link-refused"
REVIEW_AMBIGUOUS_MATCH = "ambiguous-match"
REVIEW_UNCORROBORATED = "uncorroborated"

RULE_NHS_NUMBER = "nhs-number"
RULE_NI_NUMBER = "ni-number"
RULE_SAME_PERSON_ASSERTED = "same-person-asserted"
RULE_PERSON_EVIDENCE = "person-evidence"
"""A scored link corroborated by another record of the person (agreed_fields name it: ``...@agency/id``)."""


class LinkEvidence(BaseModel):
    """One pairwise link: which rule or score joined two records, and which fields agreed (names only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record: RecordRef
    linked_to: RecordRef
    rule: str | None
    score: float | None
    agreed_fields: tuple[str, ...]
    asserted_by: str | None = None
    reason: str | None = None


class RecordMove(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record: RecordRef
    to_person_id: str


class IdentityEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    occurred_at: datetime
    causation_id: str
    model_version: str

    @property
    def event_type(self) -> str:
        return type(self).__name__

    def subject(self) -> RecordRef | None:
        """The source record the event is about, for the envelope (None when it is about persons)."""
        return None


class PersonCreated(IdentityEvent):
    """A person came to exist, founded by ``record`` (which belongs to it)."""

    person_id: str
    record: RecordRef

    def subject(self) -> RecordRef | None:
        return self.record


class RecordLinked(IdentityEvent):
    """``record`` belongs to ``person_id`` now, held there by ``evidence``."""

    person_id: str
    record: RecordRef
    evidence: LinkEvidence

    def subject(self) -> RecordRef | None:
        return self.record


class PersonsMerged(IdentityEvent):
    """Persons were found to be one: every record of ``absorbed_person_ids`` now belongs to ``person_id``.

    The older person survives; absorbed ids stay resolvable as aliases of the survivor.
    """

    person_id: str
    absorbed_person_ids: tuple[str, ...]
    bridging_links: tuple[LinkEvidence, ...]
    asserted_by: str | None = None
    reason: str | None = None


class PersonSplit(IdentityEvent):
    """Records left ``person_id``: each record in ``moves`` now belongs to its ``to_person_id``."""

    person_id: str
    moves: tuple[RecordMove, ...]
    reason_code: str
    asserted_by: str | None = None
    reason: str | None = None


class MatchReviewRequested(IdentityEvent):
    """Two records might be one person but the model will not decide: a human should."""

    record: RecordRef
    candidate: RecordRef
    person_id: str | None
    candidate_person_id: str | None
    score: float | None
    reason_code: str
    agreed_fields: tuple[str, ...]
    disagreed_fields: tuple[str, ...]

    def subject(self) -> RecordRef | None:
        return self.record


AnyIdentityEvent = PersonCreated | RecordLinked | PersonsMerged | PersonSplit | MatchReviewRequested
