"""The harness itself, without a broker: the fold gives what the handler decides, and the comparison catches a
lost, a duplicated and a phantom output (a harness that cannot fail proves nothing)."""

from __future__ import annotations

from collections import Counter

from joinedup.contract.examples import hostile_inputs
from joinedup.contract.keys import intake_key
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import intake_topic

from .harness import Acked, Ledger, LogRecord, Outputs, compare, reference_fold, referral_workload

NAMES = {
    intake_topic(a): f"t.{intake_topic(a)}"
    for a in ("probation", "police", "nhs-mh-trust", "youth-offending")
}
GROUP = "t.joinedup.referral.intake"
TIMESTAMP_MS = 1_780_000_000_000


def a_log(with_poison: bool = True) -> tuple[Ledger, list[LogRecord]]:
    ledger = Ledger()
    log: list[LogRecord] = []
    next_offset: Counter[str] = Counter()
    items = [
        (a, default_codec().encode(r), intake_key(r, a).encode())
        for a, r in referral_workload(9, 12).phases[0]
    ]
    if with_poison:
        items.insert(3, ("police", hostile_inputs()[1].payload, b"poison"))
    for agency, value, key in items:
        topic = NAMES[intake_topic(agency)]
        offset = next_offset[topic]
        next_offset[topic] += 1
        log.append(LogRecord(topic, 0, offset, TIMESTAMP_MS + len(log), key, value, ()))
        ledger.add(Acked(agency, topic, 0, offset, 0))
    return ledger, log


def outputs_of(ids: Counter[tuple[str, str]]) -> Outputs:
    return Outputs(ids, {}, [])


def test_the_fold_expects_a_receipt_for_every_input_and_a_dead_letter_for_the_poison() -> None:
    ledger, log = a_log()
    expected = reference_fold(log, ledger.phases(), NAMES, GROUP)
    kinds = Counter(kind for outs in expected.by_input.values() for kind, _ in outs)
    assert kinds["dead-letter"] == 1
    assert kinds["receipts"] == len(log) - 1
    assert kinds["events"] > 0
    assert list(expected.dead_letter_errors.values()) == ["TrailingBytes"]


def test_the_fold_is_the_same_whatever_order_the_log_is_given_in() -> None:
    ledger, log = a_log()
    assert reference_fold(log, ledger.phases(), NAMES, GROUP) == reference_fold(
        list(reversed(log)), ledger.phases(), NAMES, GROUP
    )


def test_a_faithful_output_passes_and_a_lost_a_duplicated_and_a_phantom_output_each_fail() -> None:
    ledger, log = a_log()
    expected = reference_fold(log, ledger.phases(), NAMES, GROUP)
    faithful = expected.counts()
    assert compare("ok", ledger, log, expected, outputs_of(Counter(faithful))).passed

    some = next(iter(faithful))
    lost = Counter(faithful)
    del lost[some]
    report = compare("lost", ledger, log, expected, outputs_of(lost))
    assert (report.lost, report.duplicated, report.phantom) == (1, 0, 0)

    doubled = Counter(faithful)
    doubled[some] += 1
    report = compare("duplicated", ledger, log, expected, outputs_of(doubled))
    assert (report.lost, report.duplicated, report.phantom) == (0, 1, 0)

    invented = Counter(faithful)
    invented[("events", "00000000-0000-0000-0000-000000000000")] += 1
    report = compare("phantom", ledger, log, expected, outputs_of(invented))
    assert (report.lost, report.duplicated, report.phantom) == (0, 0, 1)
    assert not report.passed


def test_an_input_in_the_log_that_no_ack_accounts_for_counts_as_in_doubt_not_as_acked() -> None:
    ledger, log = a_log(with_poison=False)
    partial = Ledger(ledger.entries[:-1])
    expected = reference_fold(log, partial.phases(), NAMES, GROUP)
    report = compare("in doubt", partial, log, expected, outputs_of(expected.counts()))
    assert (report.acked, report.in_doubt, report.reflected) == (len(log) - 1, 1, len(log) - 1)
    assert report.passed
