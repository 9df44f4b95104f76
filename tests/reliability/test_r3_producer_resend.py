"""R3: an agency system crashes part-way through publishing (SIGKILL, through the SDK) and then re-sends every
submission. The SDK's deterministic event ids and the service's idempotency on the submission key mean the
re-sends add no canonical event: each is recorded exactly once, and every send gets its receipt."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from joinedup.contract.serde import default_codec

from .crashing_publisher import publisher
from .harness import (
    Acked,
    Ledger,
    Report,
    Workers,
    compare,
    intake_total,
    read_log,
    read_outputs,
    reference_fold,
    referral_group,
    referral_workload,
)

pytestmark = [pytest.mark.reliability, pytest.mark.broker, pytest.mark.timeout(240)]


def test_a_publisher_killed_mid_stream_that_sends_everything_again_adds_no_canonical_event_twice(
    kafka_bootstrap: str,
    unique_prefix: str,
    catalog_topics: dict[str, str],
    tmp_path: Path,
    record_report: list[Report],
) -> None:
    items = referral_workload(3, 200, invalid=False).phases[0]
    submissions = tmp_path / "submissions.jsonl"
    submissions.write_text(
        "".join(
            json.dumps({"agency": a, "value": base64.b64encode(default_codec().encode(r)).decode()}) + "\n"
            for a, r in items
        ),
        encoding="utf-8",
    )
    topics_file = tmp_path / "topics.json"
    topics_file.write_text(json.dumps(catalog_topics), encoding="utf-8")
    acks = tmp_path / "acks.jsonl"
    acks.touch()

    crashing = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("crashing_publisher.py")),
            kafka_bootstrap,
            str(topics_file),
            str(submissions),
            str(acks),
        ],
    )
    try:
        deadline = time.monotonic() + 60
        while len(acks.read_text(encoding="utf-8").splitlines()) < len(items) * 2 // 5:
            assert crashing.poll() is None, "the publisher stopped before it was killed"
            assert time.monotonic() < deadline, "the publisher made no progress"
            time.sleep(0.01)
        time.sleep(0.03)  # a few more sends acked but not yet in the agency's ledger
        crashing.send_signal(signal.SIGKILL)
    finally:
        if crashing.poll() is None:
            crashing.kill()
        crashing.wait(timeout=30)
    assert crashing.returncode == -signal.SIGKILL

    ledger = Ledger()
    for line in acks.read_text(encoding="utf-8").splitlines():
        sent = json.loads(line)
        ledger.add(Acked(sent["agency"], sent["topic"], sent["partition"], sent["offset"], 0))
    first_acked = len(ledger)
    assert 0 < first_acked < len(items)

    resent: set[tuple[str, int, int]] = set()
    publishers = {a: publisher(a, kafka_bootstrap, catalog_topics) for a in sorted({a for a, _ in items})}
    try:
        for agency, record in items:  # the agency does not know what got through: it sends everything again
            for sent in publishers[agency].publish_many([record]):
                ledger.add(Acked(agency, sent.topic, sent.partition, sent.offset, 0))
                resent.add((sent.topic, sent.partition, sent.offset))
    finally:
        for pub in publishers.values():
            pub.close()

    workers = Workers(kafka_bootstrap, unique_prefix, tmp_path / "data", tmp_path / "logs")
    workers.start()
    try:
        topics = ledger.topics()
        workers.wait_caught_up(topics, intake_total(kafka_bootstrap, topics), timeout_s=120)
    finally:
        workers.stop_all()

    group = referral_group(unique_prefix)
    log = read_log(kafka_bootstrap, ledger.topics())
    expected = reference_fold(log, ledger.phases(), catalog_topics, group)
    outputs = read_outputs(kafka_bootstrap, catalog_topics, ledger.agencies())
    report = compare("R3 publisher crash + re-send", ledger, log, expected, outputs)
    report.detail["acked_before_the_crash"] = first_acked
    record_report.append(report)
    assert report.passed, report
    assert report.acked + report.in_doubt == len(log)

    once = reference_fold([r for r in log if r.coords in resent], ledger.phases(), catalog_topics, group)
    events_once = {o for outs in once.by_input.values() for o in outs if o[0] == "events"}
    events_got = Counter({o: n for o, n in outputs.ids.items() if o[0] == "events"})
    assert set(events_got) == events_once  # the canonical events of one clean send, no more
    assert set(events_got.values()) == {1}
    receipts = sum(n for (kind, _), n in outputs.ids.items() if kind == "receipts")
    assert receipts == len(log)  # every send, in doubt or acked, got its receipt
