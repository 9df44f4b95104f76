"""What the consent application needs from the outside world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from joinedup.consent.domain.events import AgreementEvent, ConsentEvent
from joinedup.consent.domain.state import ConsentState

TopicPartition = tuple[str, int]


@dataclass(frozen=True)
class StoreCommit:
    """One atomic step: the events to fold in, the input ids now processed, and for each topic partition
    the next offset to consume (the last consumed offset + 1, as Kafka commits it)."""

    events: tuple[ConsentEvent, ...] = ()
    processed_ids: tuple[str, ...] = ()
    offsets: Mapping[TopicPartition, int] = field(default_factory=dict)


class ConsentStore(Protocol):
    """The consent state, the ids of the inputs already processed, and the consumed offsets, all committed
    together: after a crash at any moment the store holds either all of a commit or none of it."""

    def state(self) -> ConsentState:
        """The current state. Read it; never ``apply`` to it directly."""
        ...

    def is_processed(self, input_id: str) -> bool: ...

    def offsets(self) -> dict[TopicPartition, int]:
        """Next offset to consume for each topic partition committed so far."""
        ...

    def commit(self, commit: StoreCommit) -> None: ...


@dataclass(frozen=True)
class Issued:
    """Who issued a DPO command, and when the API received it: the envelope facts its events do not carry."""

    agency: str
    user: str
    at: datetime
    correlation_id: str


class AgreementPublisher(Protocol):
    """Appends a DPO's agreement events to ``joinedup.consent.events``. Returns once the broker has them;
    raises ``PublishFailedError`` otherwise (the caller may retry: event ids are deterministic)."""

    def publish(self, events: Sequence[AgreementEvent], issued: Issued) -> None: ...


class PublishFailedError(Exception):
    """The events could not be published; nothing can be assumed about which of them arrived."""
