"""Property tests: the consent state and every decision are the same whatever order the events arrive in
and however often each arrives; and a withdrawal never changes a decision about an earlier instant."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.consent.app.testing import agreement, agreement_end, day, question, record, scope, statement
from joinedup.consent.domain import (
    ConsentEvent,
    ConsentState,
    Decision,
    decide,
    trail,
)

OVERRIDES = frozenset({"safeguarding", "vital-interests"})
PERSON = (record("council-asc", "ASC-1"), record("police", "PNC-1"))
STRANGER = record("council-asc", "ASC-9")
INSTANTS = [day("2026-01-01") + timedelta(days=30 * i) for i in range(5)]
ASKED_AT = sorted({*INSTANTS, *(at + timedelta(days=15) for at in INSTANTS)})
OWNERS = ("nhs-mh-trust", "council-asc")
RECIPIENTS = ("council-asc", "police")
PURPOSES = ("care-coordination", "safeguarding")

instants = st.sampled_from(INSTANTS)
maybe_instant = st.none() | instants


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=len(values))


@st.composite
def statements(draw: st.DrawFn) -> ConsentEvent:
    subject = draw(st.sampled_from((*PERSON, STRANGER)))
    valid_from = draw(instants)
    until = draw(maybe_instant)
    return statement(
        draw(st.sampled_from(["given", "withdrawn", "objection", "objection-lifted"])),
        ref=draw(st.sampled_from(["S1", "S2"])),
        version=draw(st.integers(1, 3)),
        subject=subject,
        covering=scope(
            owners=draw(_subset(OWNERS)),
            recipients=draw(_subset(RECIPIENTS)),
            purposes=draw(_subset(PURPOSES)),
        ),
        valid_from=valid_from,
        valid_until=until if until is not None and until > valid_from else None,
        effective_at=draw(instants),
    )


@st.composite
def agreements(draw: st.DrawFn) -> ConsentEvent:
    agreement_id = draw(st.sampled_from(["isa-a", "isa-b"]))
    version = draw(st.integers(1, 3))
    if draw(st.booleans()):
        return agreement_end(agreement_id, version=version, ended_at=draw(instants))
    purposes = draw(st.lists(st.sampled_from(PURPOSES), unique=True, min_size=1))
    return agreement(
        agreement_id,
        version=version,
        owners=draw(st.lists(st.sampled_from(OWNERS), unique=True, min_size=1)),
        recipients=draw(st.lists(st.sampled_from(RECIPIENTS), unique=True, min_size=1)),
        purposes=purposes,
        valid_from=draw(instants),
        override_purposes=[p for p in purposes if p in OVERRIDES and draw(st.booleans())],
    )


events = st.lists(statements() | agreements(), max_size=12)


QUESTIONS = [
    question(records=PERSON, owner=owner, recipient=recipient, purpose=purpose, at=at)
    for owner in OWNERS
    for recipient in RECIPIENTS
    for purpose in PURPOSES
    for at in ASKED_AT
]


def _decisions(state: ConsentState) -> list[Decision]:
    return [decide(state, asked, override_purposes=OVERRIDES) for asked in QUESTIONS]


@settings(max_examples=80, deadline=None)
@given(events=events, data=st.data())
def test_any_permutation_or_duplication_of_the_events_gives_the_same_state_and_decisions(
    events: list[ConsentEvent], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=6)) if events else []
    reordered = ConsentState.fold([*shuffled, *repeats, *reversed(shuffled)])
    original = ConsentState.fold(events)

    assert reordered.fingerprint() == original.fingerprint()
    assert _decisions(reordered) == _decisions(original)
    assert trail(reordered, PERSON) == trail(original, PERSON)


@settings(max_examples=60, deadline=None)
@given(events=events, withdrawn_at=instants, new_statement=st.booleans())
def test_a_withdrawal_never_changes_a_decision_about_an_earlier_instant(
    events: list[ConsentEvent], withdrawn_at: datetime, new_statement: bool
) -> None:
    withdrawal = statement(
        "withdrawn",
        ref="WD-NEW" if new_statement else "S1",
        version=1 if new_statement else 4,  # above every generated version of S1
        subject=PERSON[0],
        valid_from=INSTANTS[0],
        effective_at=withdrawn_at,
    )
    before = ConsentState.fold(events)
    after = ConsentState.fold([*events, withdrawal])

    for at in ASKED_AT:
        if at >= withdrawn_at:
            continue
        asked = [question(records=PERSON, owner=o, recipient=r, at=at) for o in OWNERS for r in RECIPIENTS]
        assert [decide(after, q, override_purposes=OVERRIDES) for q in asked] == [
            decide(before, q, override_purposes=OVERRIDES) for q in asked
        ]


@settings(max_examples=40, deadline=None)
@given(events=events)
def test_a_withdrawal_in_force_denies_every_disclosure_to_another_agency_without_an_override(
    events: list[ConsentEvent],
) -> None:
    state = ConsentState.fold(
        [*events, statement("withdrawn", ref="WD-ALL", subject=PERSON[1], valid_from=INSTANTS[0])]
    )

    for asked, decision in zip(QUESTIONS, _decisions(state), strict=True):
        if asked.owner == asked.recipient:
            assert decision.basis_kind == "own-record"
            continue
        assert (
            not decision.permit
            or decision.reason == "withdrawal-overridden"
            or decision.reason == "objection-overridden"
        )
