"""What the handler needs from the outside world: where the input came from, and a store for the state.

The store stages writes and commits them together with the consumed offsets (ARCHITECTURE invariant 2), so a
kill -9 at any moment either keeps a whole batch (state, idempotency records and offsets) or none of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from joinedup.referral.domain.model import (
    Assessment,
    Contact,
    IncomingKey,
    RecordKey,
    Referral,
    ReferralKey,
)
from joinedup.referral.domain.receipts import SubmissionAccepted

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class Coordinates:
    """Where an input was read: its topic, partition and offset, and its Kafka timestamp (the broker's, on the
    intake topics: it becomes the ``recorded_at`` of everything it causes and the ``now`` the date checks
    use)."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime


class Processed(BaseModel):
    """An accepted submission key: its content hash and its receipt (returned again for a duplicate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    content_hash: str
    receipt: SubmissionAccepted


class ReferralState(Protocol):
    """Read and stage aggregate state. Reads see staged writes."""

    def referral(self, key: ReferralKey) -> Referral | None: ...

    def referral_sent_to(self, key: IncomingKey) -> Referral | None:
        """A referral made to ``key.to_agency`` under ``key.referral_ref`` (the first by referring agency)."""
        ...

    def assessment(self, key: RecordKey) -> Assessment | None: ...

    def contact(self, key: RecordKey) -> Contact | None: ...

    def processed(self, key: str) -> Processed | None: ...

    def put_referral(self, referral: Referral) -> None: ...

    def put_assessment(self, assessment: Assessment) -> None: ...

    def put_contact(self, contact: Contact) -> None: ...

    def put_processed(self, processed: Processed) -> None: ...


class ReferralStore(ReferralState, Protocol):
    """A state that commits staged writes together with consumed offsets, in one transaction."""

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Make the staged writes durable with these offsets (the *next* offset to read per partition)."""
        ...

    def rollback(self) -> None:
        """Forget the staged writes."""
        ...

    def offsets(self) -> dict[TopicPartition, int]:
        """The committed next-offset per partition (where a restarted consumer seeks to)."""
        ...
