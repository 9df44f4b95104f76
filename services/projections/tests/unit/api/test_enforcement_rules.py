"""The pure disclosure rules, over generated views and answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.projections.api.decisions import DecisionAnswer
from joinedup.projections.api.enforcement import Ask, decision_questions, disclose
from joinedup.projections.person_view.read_model import PersonView, SourceRecord, ViewItem

AGENCIES = ["council-asc", "police", "nhs-mh-trust", "probation"]
CATEGORIES = ["social-care", "criminal-justice", "mental-health", "health"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ASK = Ask(recipient="council-asc", purpose="care-coordination", at=T0)


@st.composite
def views(draw: st.DrawFn) -> PersonView:
    agencies = draw(st.lists(st.sampled_from(AGENCIES), min_size=1, max_size=4, unique=True))
    records = tuple(SourceRecord(agency=a, local_person_id=f"{a}-1") for a in sorted(agencies))
    count = draw(st.integers(0, 6))
    items = tuple(
        ViewItem(
            item_id=f"contact:{owner}/R{n}",
            kind="contact",
            owner_agency=owner,
            record=(owner, f"{owner}-1"),
            type="home-visit",
            status="recorded",
            occurred_at=T0 + timedelta(days=n),
            data_categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=3, unique=True))),
            references=(f"R{n}",),
            history=(),
            source_event_ids=(),
        )
        for n, owner in enumerate(draw(st.lists(st.sampled_from(agencies), min_size=count, max_size=count)))
    )
    return PersonView(person_id="p-1", records=records, items=items, alerts=())


@settings(max_examples=150, deadline=None)
@given(
    view=views(),
    permitted=st.sets(st.tuples(st.sampled_from(AGENCIES), st.sampled_from([*CATEGORIES, "identity"]))),
)
def test_disclosure_follows_the_rules_for_any_view_and_any_answers(
    view: PersonView, permitted: set[tuple[str, str]]
) -> None:
    questions = decision_questions([view], ASK)
    answers = {
        key: DecisionAnswer(permit=True, basis_kind="consent", basis_id="cs-1", lawful_basis="consent")
        if (key[1], key[2]) in permitted
        else DecisionAnswer(permit=False, basis_kind="none", reason="no-basis")
        for key in questions
    }
    result = disclose(view, ASK, answers)

    assert len(result.items) + result.withheld == len(view.items)
    assert all(owner != ASK.recipient for _, owner, _ in questions)
    shown = {d.item.item_id for d in result.items}
    for item in view.items:
        categories = item.data_categories or ("identity",)
        allowed = item.owner_agency == ASK.recipient or all(
            (item.owner_agency, c) in permitted for c in categories
        )
        assert (item.item_id in shown) == allowed
    visible_agencies = {r.record.agency for r in result.records}
    expected = {ASK.recipient} & {r.agency for r in view.records} | {
        d.item.owner_agency for d in result.items if d.item.owner_agency in {r.agency for r in view.records}
    }
    assert visible_agencies == expected
    assert result.has_basis == bool(result.records or result.items)


@settings(max_examples=50, deadline=None)
@given(view=views())
def test_without_any_answer_only_the_callers_own_items_are_shown(view: PersonView) -> None:
    result = disclose(view, ASK, {})
    assert all(d.item.owner_agency == ASK.recipient for d in result.items)
    assert result.withheld == sum(1 for i in view.items if i.owner_agency != ASK.recipient)


def test_questions_come_in_a_fixed_order_whatever_the_item_order() -> None:
    items = [
        ViewItem(
            item_id=f"contact:{owner}/{category}",
            kind="contact",
            owner_agency=owner,
            record=(owner, "x"),
            type="t",
            status="s",
            occurred_at=T0,
            data_categories=(category,),
            references=(),
            history=(),
            source_event_ids=(),
        )
        for owner, category in [
            ("police", "health"),
            ("nhs-mh-trust", "health"),
            ("police", "criminal-justice"),
        ]
    ]
    records = (SourceRecord(agency="police", local_person_id="x"),)
    forward = PersonView(person_id="p", records=records, items=tuple(items), alerts=())
    backward = PersonView(person_id="p", records=records, items=tuple(reversed(items)), alerts=())
    assert (
        list(decision_questions([forward], ASK))
        == list(decision_questions([backward], ASK))
        == [
            ("p", "nhs-mh-trust", "health"),
            ("p", "police", "criminal-justice"),
            ("p", "police", "health"),
        ]
    )
