"""R5 (person view): identity events ahead of the records they concern, and records ahead of their identity
events, through the running person view worker.

The same canonical stream (referral and identity events from the projections' synthetic stream, each with its
natural Kafka timestamp) goes to two sets of prefixed topics. *Natural*: all of it at once, in natural
order. *Reordered*: in four rounds, each processed before the next is sent (see
``person_view_reorder.reordered_rounds``): persons created, records linked and persons merged before any of
their records' events, then referral events of records whose identity events come later, then those, with
some inputs delivered twice. The reference: the pure projector over the natural order (which input raises
which alert). Checked: every input is in the reordered view, no alert is published twice or invented; the
persons, records, items and aliases equal the natural view's; ``joinedup projections rebuild`` of the
reordered topics gives the natural ``joinedup projections hash``; and the live reordered view's hash and the
alerts it publishes equal the natural order's (they once did not: an identity event placing a record after its
referral closed raised nothing, and an alert raised by a placement was dated at the placement; the detector
now judges every pair as of its trigger's time, from the items' histories)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from joinedup.contract.topics import ALERTS

from .harness import Ledger, Report, fresh_topics
from .person_view_reorder import (
    PersonViewProcess,
    alert_ids,
    natural_inputs,
    publish,
    reference_alerts,
    reordered_rounds,
    view_without_alerts,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

SEED = 20261105
EVENTS = 4_000


@dataclass(frozen=True)
class Runs:
    report: Report
    natural_hash: str
    natural_rebuilt: str
    reordered_hash: str
    reordered_rebuilt: str
    natural_without_alerts: str
    reordered_without_alerts: str
    reference: dict[str, str]
    """Alert id -> the event id of the input that raises it (the pure projector in natural order)."""
    natural_alerts: Counter[str]
    reordered_alerts: Counter[str]
    missing_ids: set[str]
    """Inputs not in the reordered view."""


@pytest.fixture(scope="module")
def runs(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    tmp = tmp_path_factory.mktemp("r5-person-view")
    inputs = natural_inputs(EVENTS, SEED)
    rounds = reordered_rounds(inputs)
    reference = reference_alerts(EVENTS, SEED)

    prefix, names = fresh_topics(kafka_bootstrap)
    natural = PersonViewProcess(kafka_bootstrap, prefix, tmp / "natural", tmp / "logs")
    publish(kafka_bootstrap, names, inputs, Ledger(), 0)
    try:
        natural.start()
        natural.wait_caught_up(len(inputs))
    finally:
        natural.stop()
    natural_hash = natural.view_hash()
    natural_without_alerts = view_without_alerts(natural.store)
    natural_alerts = alert_ids(kafka_bootstrap, names[ALERTS])
    natural_rebuilt = natural.rebuild()

    prefix, names = fresh_topics(kafka_bootstrap)
    reordered = PersonViewProcess(kafka_bootstrap, prefix, tmp / "reordered", tmp / "logs")
    ledger = Ledger()
    progress: list[str] = []
    try:
        reordered.start()
        for phase, sends in enumerate(rounds):
            publish(kafka_bootstrap, names, sends, ledger, phase)
            took = reordered.wait_caught_up(len(ledger))
            progress.append(f"round {phase + 1}: {len(sends)} inputs, caught up in {took:.1f} s")
    finally:
        stopped = reordered.stop()
    assert stopped == 0
    reordered_hash = reordered.view_hash()
    reordered_without_alerts = view_without_alerts(reordered.store)
    processed = reordered.processed_ids()
    published = alert_ids(kafka_bootstrap, names[ALERTS])
    reordered_rebuilt = reordered.rebuild()

    # an input is reflected when it is in the view and every alert it raises in natural order was published
    raised_by: dict[str, list[str]] = {}
    for alert, cause in reference.items():
        raised_by.setdefault(cause, []).append(alert)
    sent = [i for sends in rounds for i in sends]
    reflected = sum(
        1
        for i in sent
        if i.event_id in processed and all(a in published for a in raised_by.get(i.event_id, []))
    )
    report = Report(
        scenario="R5 identity before records / records before identity (person view)",
        acked=len(ledger),
        in_doubt=0,
        reflected=reflected,
        lost=len(ledger) - reflected,
        duplicated=sum(n - 1 for n in published.values() if n > 1),
        phantom=sum(n for i, n in published.items() if i not in reference),
        dead_lettered=0,
        recover_s=None,
        outputs=sum(published.values()),
        detail={
            "rounds": progress,
            "inputs": len(inputs),
            "redelivered": len(sent) - len(inputs),
            "natural_view_hash": natural_hash[:16],
            "natural_rebuilt_hash": natural_rebuilt[:16],
            "reordered_view_hash": reordered_hash[:16],
            "reordered_rebuilt_hash": reordered_rebuilt[:16],
            "views_equal_without_alerts": natural_without_alerts == reordered_without_alerts,
            "alerts_reference": len(reference),
            "alerts_natural_run": len(natural_alerts),
            "alerts_reordered_run": len(published),
            "alerts_missing": len(set(reference) - set(published)),
        },
    )
    return Runs(
        report,
        natural_hash,
        natural_rebuilt,
        reordered_hash,
        reordered_rebuilt,
        natural_without_alerts,
        reordered_without_alerts,
        reference,
        natural_alerts,
        published,
        {i.event_id for i in inputs} - processed,
    )


def test_the_natural_run_publishes_exactly_the_alerts_of_the_pure_projector(runs: Runs) -> None:
    assert len(runs.reference) > 50
    assert runs.natural_alerts == Counter(set(runs.reference))
    assert runs.natural_rebuilt == runs.natural_hash


def test_every_input_delivered_out_of_order_is_in_the_view_and_no_alert_is_duplicated_or_invented(
    runs: Runs, record_report: list[Report]
) -> None:
    record_report.append(runs.report)
    assert runs.missing_ids == set()
    assert runs.report.duplicated == 0
    assert runs.report.phantom == 0


def test_out_of_order_delivery_gives_the_persons_records_and_items_of_the_natural_order(runs: Runs) -> None:
    assert runs.reordered_without_alerts == runs.natural_without_alerts


def test_a_rebuild_after_out_of_order_delivery_gives_the_view_of_the_natural_order(runs: Runs) -> None:
    assert runs.reordered_rebuilt == runs.natural_hash


def test_out_of_order_delivery_gives_the_view_hash_of_the_natural_order(runs: Runs) -> None:
    assert runs.reordered_hash == runs.natural_hash


def test_out_of_order_delivery_publishes_every_alert_of_the_natural_order(runs: Runs) -> None:
    assert set(runs.reordered_alerts) == set(runs.reference)
    assert runs.report.passed, runs.report
