"""The consent state: a commutative, idempotent fold of the consent events.

Every version of every statement and agreement is kept, keyed by (id, version), so the state is the same
whatever order the events arrive in and however often each arrives. Questions about an instant pick, per
statement or agreement, the highest version already in effect at that instant:

- a statement version takes effect at its ``effective_at``;
- an agreement registration takes effect at its ``valid_from``, an agreement end at its ``ended_at``.

So a withdrawal (version 2 of a consent) changes nothing before it takes effect, and a later version wins
whatever order the versions arrived in. Two different events claiming the same (id, version) should not
happen (intake rejects a version conflict); if they do, the fold keeps the more restrictive one, then the
one whose canonical form sorts first, which is again independent of arrival order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from joinedup.consent.domain.events import (
    AgreementEvent,
    ConsentEvent,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    StatementEvent,
)
from joinedup.consent.domain.scope import RecordRef

_STATEMENT_RANK = {"objection": 0, "withdrawn": 1, "objection-lifted": 2, "given": 3}
"""When two events claim one statement version, the more restrictive kind is kept (fail closed)."""

E = TypeVar("E", StatementEvent, AgreementEvent)


def canonical_form(event: ConsentEvent) -> str:
    """The event's type and JSON, with scopes sorted and instants in UTC: equal facts, equal strings."""
    return f"{type(event).__name__}:{event.model_dump_json()}"


def _statement_preference(event: StatementEvent) -> tuple[int, str]:
    return (_STATEMENT_RANK[event.kind], canonical_form(event))


def _agreement_preference(event: AgreementEvent) -> tuple[int, str]:
    return (0 if isinstance(event, SharingAgreementEnded) else 1, canonical_form(event))


def _agreement_takes_effect(event: AgreementEvent) -> datetime:
    return event.ended_at if isinstance(event, SharingAgreementEnded) else event.valid_from


def _statement_takes_effect(event: StatementEvent) -> datetime:
    return event.effective_at


def _in_effect(versions: dict[int, E], at: datetime, takes_effect: Callable[[E], datetime]) -> E | None:
    for version in sorted(versions, reverse=True):
        event = versions[version]
        if takes_effect(event) <= at:
            return event
    return None


class ConsentState:
    """All consent statements and sharing agreements, every version of each.

    ``apply`` is commutative and idempotent; only stores call it. Everything else reads.
    """

    __slots__ = ("_agreements", "_by_subject", "_statements")

    def __init__(self) -> None:
        self._statements: dict[str, dict[int, StatementEvent]] = {}
        self._agreements: dict[str, dict[int, AgreementEvent]] = {}
        # An index only: it may list a statement under a record none of its kept versions names any more;
        # readers check each version's subject.
        self._by_subject: dict[RecordRef, set[str]] = {}

    @classmethod
    def fold(cls, events: Iterable[ConsentEvent]) -> ConsentState:
        state = cls()
        for event in events:
            state.apply(event)
        return state

    def apply(self, event: ConsentEvent) -> bool:
        """Fold one event in; True if the state changed (False for a duplicate or a losing conflict)."""
        if isinstance(event, StatementEvent):
            return self._apply_statement(event)
        return self._apply_agreement(event)

    def _apply_statement(self, event: StatementEvent) -> bool:
        versions = self._statements.setdefault(event.statement_id, {})
        current = versions.get(event.version)
        if current is not None and (
            current == event or _statement_preference(current) <= _statement_preference(event)
        ):
            return False
        versions[event.version] = event
        self._by_subject.setdefault(event.subject, set()).add(event.statement_id)
        return True

    def _apply_agreement(self, event: AgreementEvent) -> bool:
        versions = self._agreements.setdefault(event.agreement_id, {})
        current = versions.get(event.version)
        if current is not None and (
            current == event or _agreement_preference(current) <= _agreement_preference(event)
        ):
            return False
        versions[event.version] = event
        return True

    # ------------------------------------------------------------------ reads

    def statement_version(self, statement_id: str, version: int) -> StatementEvent | None:
        return self._statements.get(statement_id, {}).get(version)

    def agreement_version(self, agreement_id: str, version: int) -> AgreementEvent | None:
        return self._agreements.get(agreement_id, {}).get(version)

    def has_agreement(self, agreement_id: str) -> bool:
        return any(
            isinstance(event, SharingAgreementRegistered)
            for event in self._agreements.get(agreement_id, {}).values()
        )

    def statement_ids_for(self, records: Iterable[RecordRef]) -> tuple[str, ...]:
        """Ids of the statements captured against any of ``records``, sorted."""
        wanted = set(records)
        ids = {
            statement_id
            for record in wanted
            for statement_id in self._by_subject.get(record, ())
            if any(event.subject in wanted for event in self._statements[statement_id].values())
        }
        return tuple(sorted(ids))

    def statement_history(self, statement_id: str) -> tuple[StatementEvent, ...]:
        versions = self._statements.get(statement_id, {})
        return tuple(versions[v] for v in sorted(versions))

    def agreement_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._agreements))

    def agreement_history(self, agreement_id: str) -> tuple[AgreementEvent, ...]:
        versions = self._agreements.get(agreement_id, {})
        return tuple(versions[v] for v in sorted(versions))

    def statement_in_effect(self, statement_id: str, at: datetime) -> StatementEvent | None:
        """The highest version of the statement that has taken effect by ``at`` (in its period or not)."""
        return _in_effect(self._statements.get(statement_id, {}), at, _statement_takes_effect)

    def statements_applying(self, records: Sequence[RecordRef], at: datetime) -> tuple[StatementEvent, ...]:
        """For each statement on ``records``: its version in effect at ``at``, if it is about one of those
        records and ``at`` is in its period. Sorted by statement id."""
        wanted = set(records)
        applying: list[StatementEvent] = []
        for statement_id in self.statement_ids_for(records):
            event = self.statement_in_effect(statement_id, at)
            if event is not None and event.subject in wanted and event.applies_at(at):
                applying.append(event)
        return tuple(applying)

    def agreement_in_effect(self, agreement_id: str, at: datetime) -> AgreementEvent | None:
        return _in_effect(self._agreements.get(agreement_id, {}), at, _agreement_takes_effect)

    def agreements_in_force(self, at: datetime) -> tuple[SharingAgreementRegistered, ...]:
        """The terms of each agreement in force at ``at`` (registered, in period, not ended), by id."""
        in_force: list[SharingAgreementRegistered] = []
        for agreement_id in self.agreement_ids():
            event = self.agreement_in_effect(agreement_id, at)
            if isinstance(event, SharingAgreementRegistered) and event.in_period_at(at):
                in_force.append(event)
        return tuple(in_force)

    def events(self) -> tuple[ConsentEvent, ...]:
        """Every kept event in canonical order: statements by (id, version), then agreements."""
        statements: list[ConsentEvent] = [
            event
            for statement_id in sorted(self._statements)
            for event in self.statement_history(statement_id)
        ]
        agreements: list[ConsentEvent] = [
            event for agreement_id in self.agreement_ids() for event in self.agreement_history(agreement_id)
        ]
        return (*statements, *agreements)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical forms of every kept event: equal states, equal fingerprints."""
        digest = hashlib.sha256()
        for event in self.events():
            digest.update(canonical_form(event).encode())
            digest.update(b"\n")
        return digest.hexdigest()
