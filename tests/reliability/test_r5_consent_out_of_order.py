"""R5 (consent): statement versions out of order, through the running consent service.

``joinedup run consent`` runs as a process (its intake worker, its decision-state follower and its API). The
agencies publish their consent statements in two rounds: first every later version (v3 before v2 of the
same statement: on one key, so in that order in the log) and the standalone withdrawals, some sent twice;
once the service has caught up, every v1 (the consent the withdrawals withdraw, the objection the lifts
lift), with some of round 1 sent again. After each round, the decisions the service's API gives for every
record, recipient, purpose and a set of instants equal the pure decision core over the same statements in
natural order (by statement, by version); and the intake outputs equal the shard handler's fold of the log
(nothing lost, duplicated or invented)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from joinedup.contract.topics import CONSENT_EVENTS

from .consent_reorder import (
    INTAKE_GROUP,
    ConsentWorker,
    Statement,
    consent_fold,
    consent_statements,
    core_decisions,
    out_of_order,
    questions,
)
from .harness import Ledger, LedgerPublisher, Report, compare, intake_total, read_log, read_outputs

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(400)]

RECORDS = 150


def test_consent_versions_out_of_order_give_the_decisions_of_the_pure_core_in_natural_order(
    kafka_bootstrap: str,
    unique_prefix: str,
    catalog_topics: dict[str, str],
    tmp_path: Path,
    record_report: list[Report],
) -> None:
    statements = consent_statements(RECORDS)
    rounds = out_of_order(statements)
    asked = questions(statements)
    ledger = Ledger()
    agencies = LedgerPublisher(kafka_bootstrap, catalog_topics, ledger)
    worker = ConsentWorker(kafka_bootstrap, unique_prefix, tmp_path / "data", tmp_path / "logs")
    published: list[Statement] = []
    differing: list[int] = []
    kinds: list[dict[str, int]] = []
    caught_up_s: list[float] = []
    try:
        worker.start()
        for phase, sends in enumerate(rounds):
            for statement in sends:
                agencies.publish(statement.agency, statement.submission, phase)
            agencies.flush()
            published.extend(sends)
            topics = ledger.topics()
            events = len({s.order for s in published})  # one canonical event per statement version
            caught_up_s.append(worker.wait_caught_up(topics, intake_total(kafka_bootstrap, topics), events))
            served = worker.decisions(asked)
            core = core_decisions(published, asked)
            differing.append(sum(1 for a, b in zip(served, core, strict=True) if a != b))
            kinds.append(dict(sorted(Counter(d.reason or d.basis_kind for d in served).items())))
    finally:
        stopped = worker.stop()
        agencies.close()
    assert stopped == 0, f"`joinedup run consent` exits 0 after a clean SIGTERM, not {stopped}"

    log = read_log(kafka_bootstrap, ledger.topics())
    # the worker's groups are namespaced by its topic prefix (so are its dead letters' consumer group)
    expected = consent_fold(log, catalog_topics, group=unique_prefix + INTAKE_GROUP)
    outputs = read_outputs(kafka_bootstrap, catalog_topics, ledger.agencies(), events=CONSENT_EVENTS)
    report = compare("R5 out-of-order consent versions (consent service)", ledger, log, expected, outputs)
    report.detail.update(
        {
            "statements": len(statements),
            "sends_per_round": [len(r) for r in rounds],
            "questions": len(asked),
            "decisions_differing_from_the_core_per_round": differing,
            "decisions_per_round": kinds,
            "caught_up_s": [round(s, 1) for s in caught_up_s],
        }
    )
    record_report.append(report)
    assert report.passed, report
    assert report.acked == sum(len(r) for r in rounds)
    assert differing == [0, 0], differing
    # the rounds mattered: after round 1 the withdrawals applied alone, after round 2 consent applies too
    assert kinds[0] != kinds[1]
    assert kinds[1].get("consent", 0) > 0
    assert kinds[1].get("consent-withdrawn", 0) > 0
    assert kinds[1].get("objection", 0) > 0
