"""The referral store in memory: staged writes over committed state, committed with offsets in one step.

For unit tests and for the in-process demo. Nothing survives the process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from joinedup.referral.app.ports import Processed, TopicPartition
from joinedup.referral.domain.model import (
    Assessment,
    Contact,
    IncomingKey,
    RecordKey,
    Referral,
    ReferralKey,
)


@dataclass
class _Tables:
    referrals: dict[ReferralKey, Referral] = field(default_factory=dict)
    assessments: dict[RecordKey, Assessment] = field(default_factory=dict)
    contacts: dict[RecordKey, Contact] = field(default_factory=dict)
    processed: dict[str, Processed] = field(default_factory=dict)

    def merge(self, other: _Tables) -> None:
        self.referrals.update(other.referrals)
        self.assessments.update(other.assessments)
        self.contacts.update(other.contacts)
        self.processed.update(other.processed)


class MemoryReferralStore:
    """Implements ``ReferralStore``: reads see staged writes; ``commit`` applies them with the offsets."""

    def __init__(self) -> None:
        self._committed = _Tables()
        self._staged = _Tables()
        self._offsets: dict[TopicPartition, int] = {}

    # reads
    def referral(self, key: ReferralKey) -> Referral | None:
        return self._staged.referrals.get(key) or self._committed.referrals.get(key)

    def referral_sent_to(self, key: IncomingKey) -> Referral | None:
        found = {
            k: r
            for tables in (self._committed, self._staged)
            for k, r in tables.referrals.items()
            if r.to_agency == key.to_agency and r.referral_ref == key.referral_ref
        }
        return found[min(found)] if found else None

    def assessment(self, key: RecordKey) -> Assessment | None:
        return self._staged.assessments.get(key) or self._committed.assessments.get(key)

    def contact(self, key: RecordKey) -> Contact | None:
        return self._staged.contacts.get(key) or self._committed.contacts.get(key)

    def processed(self, key: str) -> Processed | None:
        return self._staged.processed.get(key) or self._committed.processed.get(key)

    # staged writes
    def put_referral(self, referral: Referral) -> None:
        self._staged.referrals[referral.key] = referral

    def put_assessment(self, assessment: Assessment) -> None:
        self._staged.assessments[assessment.key] = assessment

    def put_contact(self, contact: Contact) -> None:
        self._staged.contacts[contact.key] = contact

    def put_processed(self, processed: Processed) -> None:
        self._staged.processed[processed.key] = processed

    # transaction
    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.merge(self._staged)
        self._offsets.update(offsets)
        self._staged = _Tables()

    def rollback(self) -> None:
        self._staged = _Tables()

    def offsets(self) -> dict[TopicPartition, int]:
        return dict(self._offsets)
