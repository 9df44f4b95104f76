"""Record-to-person membership rebuilt from identity events alone: what a downstream view does.

Applying the resolver's events in order gives exactly the resolver's partition (a test checks it), so a view
partitioned by person id never needs the resolver's internal state.
"""

from __future__ import annotations

from joinedup.projections.identity.events import (
    AnyIdentityEvent,
    PersonCreated,
    PersonsMerged,
    PersonSplit,
    RecordLinked,
)
from joinedup.projections.identity.records import RecordKey


class Membership:
    def __init__(self) -> None:
        self._person_of: dict[RecordKey, str] = {}
        self._members: dict[str, dict[RecordKey, None]] = {}
        self._aliases: dict[str, str] = {}

    def _move(self, key: RecordKey, person_id: str) -> None:
        previous = self._person_of.get(key)
        if previous is not None:
            self._members.get(previous, {}).pop(key, None)
        self._person_of[key] = person_id
        self._members.setdefault(person_id, {})[key] = None

    def apply(self, event: AnyIdentityEvent) -> None:
        if isinstance(event, PersonCreated | RecordLinked):
            self._move(event.record.key(), event.person_id)
        elif isinstance(event, PersonSplit):
            for move in event.moves:
                self._move(move.record.key(), move.to_person_id)
        elif isinstance(event, PersonsMerged):
            for absorbed in event.absorbed_person_ids:
                for key in list(self._members.pop(absorbed, {})):
                    self._move(key, event.person_id)
                self._aliases[absorbed] = event.person_id

    def person_of(self, key: RecordKey) -> str | None:
        return self._person_of.get(key)

    def current_person_id(self, person_id: str) -> str:
        seen = {person_id}
        while (target := self._aliases.get(person_id)) is not None and target not in seen:
            seen.add(target)
            person_id = target
        return person_id

    def partition(self) -> dict[RecordKey, str]:
        return dict(sorted(self._person_of.items()))
