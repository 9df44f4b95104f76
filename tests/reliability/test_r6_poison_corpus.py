"""R6: a poison-message corpus interleaved with good submissions. Every poison message is dead-lettered
with its own error class, every good one is processed, and the worker keeps going (one process, never
restarted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.contract.examples import hostile_inputs
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import DEAD_LETTER

from .harness import (
    Ledger,
    LedgerPublisher,
    Report,
    Workers,
    check,
    intake_total,
    read_log,
    referral_group,
    referral_workload,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.timeout(240)]


def test_every_poison_message_is_dead_lettered_with_its_error_class_and_the_worker_keeps_going(
    kafka_bootstrap: str,
    unique_prefix: str,
    catalog_topics: dict[str, str],
    tmp_path: Path,
    record_report: list[Report],
) -> None:
    corpus = hostile_inputs()
    work = referral_workload(6, 120)
    ledger = Ledger()
    agencies = LedgerPublisher(kafka_bootstrap, catalog_topics, ledger)
    workers = Workers(kafka_bootstrap, unique_prefix, tmp_path / "data", tmp_path / "logs")
    poison = 0
    try:
        for phase, submissions in enumerate(work.phases):
            for n, (agency, record) in enumerate(submissions):
                agencies.publish(agency, record, phase)
                if n % 7 == 0:  # a poison message on the same topic, between good ones
                    hostile = corpus[poison % len(corpus)]
                    agencies.publish_raw(agency, f"poison-{poison}".encode(), hostile.payload, phase)
                    poison += 1
            agencies.flush()
            if phase == 0:
                workers.start()
            topics = ledger.topics()
            workers.wait_caught_up(topics, intake_total(kafka_bootstrap, topics), timeout_s=120)
        assert workers.alive(), "the worker stopped"
        assert workers.started == 1
    finally:
        workers.stop_all()
        agencies.close()
    assert poison >= len(corpus)

    report = check("R6 poison corpus", kafka_bootstrap, catalog_topics, ledger, referral_group(unique_prefix))
    record_report.append(report)
    assert report.passed, report
    assert report.dead_lettered == poison
    assert report.reflected == report.acked == work.count + poison
    assert report.detail["dead_letters_with_the_wrong_error_class"] == 0

    letters = read_dead_letters(kafka_bootstrap, catalog_topics)
    kinds = {(letter.payload, letter.error_class) for letter in letters}
    assert {(h.payload, h.error.__name__) for h in corpus} <= kinds
    assert all(letter.reason for letter in letters)


def read_dead_letters(bootstrap: str, names: dict[str, str]) -> list[DeadLetter]:
    codec = default_codec()
    out: list[DeadLetter] = []
    for r in read_log(bootstrap, [names[DEAD_LETTER]]):
        letter = codec.decode(r.value)
        assert isinstance(letter, DeadLetter)
        out.append(letter)
    return out
