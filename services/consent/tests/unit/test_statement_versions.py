"""Versions: a later version wins whatever order the versions arrive in, and from when it takes effect."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations

import pytest

from joinedup.consent.app.testing import agreement, agreement_end, day, question, scope, statement
from joinedup.consent.domain import ConsentEvent, ConsentState, decide

OVERRIDES = frozenset({"safeguarding", "vital-interests"})

CONSENT_V1 = statement("given", version=1, covering=scope(recipients=["council-asc"]))
CONSENT_V2 = statement(
    "given", version=2, covering=scope(recipients=["probation"]), effective_at=day("2026-02-01")
)
WITHDRAWN_V3 = statement("withdrawn", version=3, effective_at=day("2026-04-01"))


def _permits(events: Sequence[ConsentEvent], when: str, recipient: str) -> bool:
    state = ConsentState.fold(events)
    return decide(state, question(recipient=recipient, at=day(when)), override_purposes=OVERRIDES).permit


@pytest.mark.parametrize("arrival", list(permutations([CONSENT_V1, CONSENT_V2, WITHDRAWN_V3])))
def test_a_later_version_wins_in_any_arrival_order(arrival: tuple[ConsentEvent, ...]) -> None:
    assert _permits(arrival, "2026-01-15", "council-asc")  # only v1 in effect
    assert not _permits(arrival, "2026-01-15", "probation")
    assert not _permits(arrival, "2026-03-01", "council-asc")  # v2 narrowed it to probation
    assert _permits(arrival, "2026-03-01", "probation")
    assert not _permits(arrival, "2026-05-01", "probation")  # v3 withdrew it


def test_a_withdrawal_changes_later_decisions_and_not_earlier_ones() -> None:
    consent = statement("given")
    before = ConsentState.fold([consent])
    after = ConsentState.fold([consent, statement("withdrawn", version=2, effective_at=day("2026-03-01"))])
    instants = [day("2026-01-01"), day("2026-02-28"), day("2026-03-01"), day("2026-12-01")]

    earlier = [decide(after, question(at=at), override_purposes=OVERRIDES).permit for at in instants]
    unchanged = [decide(before, question(at=at), override_purposes=OVERRIDES).permit for at in instants]

    assert earlier == [True, True, False, False]
    assert unchanged == [True, True, True, True]


def test_a_withdrawal_published_after_an_agreement_denies_from_its_time_only() -> None:
    events: list[ConsentEvent] = [
        agreement(),
        statement("withdrawn", ref="WD-1", effective_at=day("2026-03-01")),
    ]

    assert _permits(events, "2026-02-28", "council-asc")
    assert not _permits(events, "2026-03-01", "council-asc")


@pytest.mark.parametrize(
    "arrival",
    list(
        permutations(
            [
                agreement(version=1),
                agreement(version=2, purposes=("housing-support",), valid_from=day("2026-01-01")),
                agreement_end(version=3, ended_at=day("2026-06-01")),
            ]
        )
    ),
)
def test_an_agreement_amendment_and_end_win_in_any_arrival_order(arrival: tuple[ConsentEvent, ...]) -> None:
    state = ConsentState.fold(arrival)
    in_force = state.agreements_in_force(day("2026-03-01"))

    assert [(a.version, a.purposes) for a in in_force] == [(2, ("housing-support",))]
    assert state.agreements_in_force(day("2026-06-01")) == ()


def test_an_agreement_registered_again_after_its_end_is_in_force_from_the_new_valid_from() -> None:
    state = ConsentState.fold(
        [
            agreement(version=1),
            agreement_end(version=2, ended_at=day("2026-03-01")),
            agreement(version=3, valid_from=day("2026-05-01")),
        ]
    )

    assert [a.version for a in state.agreements_in_force(day("2026-02-01"))] == [1]
    assert state.agreements_in_force(day("2026-04-01")) == ()
    assert [a.version for a in state.agreements_in_force(day("2026-05-01"))] == [3]


def test_a_duplicate_event_changes_nothing() -> None:
    state = ConsentState.fold([CONSENT_V1])
    fingerprint = state.fingerprint()

    changed = state.apply(CONSENT_V1)

    assert not changed
    assert state.fingerprint() == fingerprint


@pytest.mark.parametrize("order", [0, 1])
def test_two_events_claiming_one_version_resolve_to_the_more_restrictive_in_any_order(order: int) -> None:
    given = statement("given", version=1)
    objection = statement("objection", version=1)
    events = [given, objection] if order == 0 else [objection, given]

    state = ConsentState.fold(events)

    assert state.statement_version("council-asc/CS-1", 1) == objection
