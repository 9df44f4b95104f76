"""A ConsentStore in memory: for tests, and for a worker that rebuilds from offset 0 on every start."""

from __future__ import annotations

from joinedup.consent.app.ports import StoreCommit, TopicPartition
from joinedup.consent.domain.state import ConsentState


class InMemoryConsentStore:
    def __init__(self) -> None:
        self._state = ConsentState()
        self._processed: set[str] = set()
        self._offsets: dict[TopicPartition, int] = {}

    def state(self) -> ConsentState:
        return self._state

    def is_processed(self, input_id: str) -> bool:
        return input_id in self._processed

    def offsets(self) -> dict[TopicPartition, int]:
        return dict(self._offsets)

    def commit(self, commit: StoreCommit) -> None:
        # Nothing below can fail half-way for valid events, so the step is all-or-nothing.
        for event in commit.events:
            self._state.apply(event)
        self._processed.update(commit.processed_ids)
        self._offsets.update(commit.offsets)
