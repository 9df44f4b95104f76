"""The agency SDK and `joinedup publish` against a real broker (prefixed topics, one test each)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from kafka import KafkaConsumer, TopicPartition
from typer.testing import CliRunner

from joinedup.contract.cli import register
from joinedup.contract.envelope import envelope_for, event_id_for, from_kafka_timestamp
from joinedup.contract.jsonl import InvalidSubmission
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer, topic_offsets
from joinedup.contract.keys import IntakeRecord, intake_key
from joinedup.contract.models.intake import ContactRecord, ReferralSubmission
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.sdk import AgencyPublisher, PublishError, ReceiptTimeout, submission_ref
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import catalog, intake_topic, receipts_topic

pytestmark = pytest.mark.broker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "intake"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
AGENCY = "police"


@pytest.fixture
def topics(kafka_bootstrap: str, unique_prefix: str) -> dict[str, str]:
    """Only the topics these tests use, from the catalog, under the test's prefix (catalog -> real name)."""
    wanted = (intake_topic(AGENCY), receipts_topic(AGENCY))
    renamed = catalog().renamed(unique_prefix)
    admin = admin_client(kafka_bootstrap)
    try:
        report = apply_topics(admin, [renamed[name] for name in wanted])
    finally:
        admin.close()
    assert report.ok, report.drift
    return {name: renamed[name].name for name in wanted}


@pytest.fixture
def publisher(kafka_bootstrap: str, topics: dict[str, str]) -> Iterator[AgencyPublisher]:
    with AgencyPublisher(AGENCY, kafka_bootstrap, topics, clock=lambda: NOW) as sdk:
        yield sdk


def submission(ref: str = "POL-1", **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": "ReferralSubmission",
        "referral_ref": ref,
        "subject": {"local_person_id": "P-1", "nhs_number": "9434765919"},
        "to_agency": "council-housing",
        "need_codes": ["accommodation"],
        "urgency": "routine",
        "referred_at": "2026-03-02T09:30:15Z",
        "data_categories": ["identity"],
    }
    data.update(changes)
    return data


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0) -> list[Any]:
    """Every committed record of ``topic`` (waits until ``expected`` are there or the timeout)."""
    reader: KafkaConsumer = consumer(bootstrap, None, "joinedup-test-reader")
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
        found: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < expected and time.monotonic() < deadline:
            for batch in reader.poll(timeout_ms=300).values():
                found.extend(batch)
        return sorted(found, key=lambda m: (m.partition, m.offset))
    finally:
        reader.close()


def receipt_for(record: IntakeRecord, *, reject: bool = False, stamp_ms: int = 1_772_460_000_000) -> Any:
    moment = from_kafka_timestamp(stamp_ms)
    model = SubmissionRejected if reject else SubmissionAccepted
    envelope = envelope_for(
        model,
        event_id=event_id_for("receipt", str(record.envelope.event_id)),
        occurred_at=moment,
        recorded_at=moment,
        source_agency=record.envelope.source_agency,
        correlation_id=record.envelope.correlation_id,
        causation_id=record.envelope.event_id,
    )
    if reject:
        return SubmissionRejected(
            envelope=envelope,
            submission_type=record.avro_name,
            submission_ref=submission_ref(record),
            reason_code="unknown-contact-type",
            field="contact_type",
            message="contact_type is not a code of the contact_types vocabulary",
        )
    return SubmissionAccepted(
        envelope=envelope,
        submission_type=record.avro_name,
        submission_ref=submission_ref(record),
        event_ids=(event_id_for("canonical", str(record.envelope.event_id)),),
    )


def test_a_published_submission_is_on_the_intake_topic_decoded_keyed_and_enveloped(
    kafka_bootstrap: str, topics: dict[str, str], publisher: AgencyPublisher
) -> None:
    sent = publisher.publish(submission())
    (message,) = read_all(kafka_bootstrap, topics[intake_topic(AGENCY)], 1)
    record = default_codec().decode_as(message.value, ReferralSubmission)
    assert record == sent.record
    assert (message.partition, message.offset) == (sent.partition, sent.offset)
    assert message.key == intake_key(record, AGENCY).encode() == b"police/POL-1"
    assert record.envelope.source_agency == AGENCY
    assert record.envelope.recorded_at == NOW
    assert record.envelope.occurred_at == record.referred_at
    headers = dict(message.headers)
    assert headers["ce_id"] == str(sent.event_id).encode()
    assert headers["content-type"] == b"application/avro"


def test_an_invalid_submission_raises_and_nothing_is_sent(
    kafka_bootstrap: str, topics: dict[str, str], publisher: AgencyPublisher
) -> None:
    with pytest.raises(InvalidSubmission, match="to_agency"):
        publisher.publish(submission(to_agency="the-moon"))
    with pytest.raises(InvalidSubmission, match="urgency"):
        publisher.publish_many(
            [submission("POL-2"), submission("POL-3", urgency="someday"), submission("POL-4")]
        )
    assert sum(topic_offsets(kafka_bootstrap, topics[intake_topic(AGENCY)]).values()) == 0


def test_publishing_to_a_topic_that_does_not_exist_fails_and_creates_nothing(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    missing = {intake_topic(AGENCY): f"{unique_prefix}missing.intake"}
    with (
        AgencyPublisher(
            AGENCY, kafka_bootstrap, missing, watch_receipts=False, producer_options={"max_block_ms": 2000}
        ) as sdk,
        pytest.raises(PublishError, match=r"missing\.intake") as caught,
    ):
        sdk.publish(submission())
    assert caught.value.sent == ()
    admin = admin_client(kafka_bootstrap)
    try:
        assert f"{unique_prefix}missing.intake" not in admin.list_topics()
    finally:
        admin.close()


def test_publishing_the_same_submission_again_keeps_its_event_id(
    kafka_bootstrap: str, topics: dict[str, str], publisher: AgencyPublisher
) -> None:
    first = publisher.publish(submission())
    again = publisher.publish_many([submission(), submission("POL-9")], batch_size=1)
    messages = read_all(kafka_bootstrap, topics[intake_topic(AGENCY)], 3)
    ids = [default_codec().decode_as(m.value, ReferralSubmission).envelope.event_id for m in messages]
    assert again[0].event_id == first.event_id
    assert again[1].event_id != first.event_id
    assert sorted(map(str, ids)) == sorted(map(str, [first.event_id, first.event_id, again[1].event_id]))


def test_receipts_are_matched_by_event_id_or_reference_and_a_missing_one_times_out(
    kafka_bootstrap: str, topics: dict[str, str], publisher: AgencyPublisher
) -> None:
    accepted = publisher.publish(submission("POL-1"))
    refused = publisher.publish(submission("POL-2"))
    silent = publisher.publish(submission("POL-3"))
    answers = producer(kafka_bootstrap, "joinedup-test-receipts")
    receipts = topics[receipts_topic(AGENCY)]
    codec = default_codec()
    answers.send(receipts, key=b"POL-1", value=codec.encode(receipt_for(accepted.record)))
    answers.send(receipts, key=b"junk", value=b"not a receipt")
    answers.send(receipts, key=b"POL-2", value=codec.encode(receipt_for(refused.record, reject=True)))
    answers.flush()
    answers.close()

    got = publisher.wait_for_receipt(accepted, timeout_s=20)
    assert isinstance(got, SubmissionAccepted)
    assert got.envelope.causation_id == accepted.event_id
    by_ref = publisher.wait_for_receipt("POL-2", timeout_s=20)
    assert isinstance(by_ref, SubmissionRejected)
    assert (by_ref.reason_code, by_ref.field) == ("unknown-contact-type", "contact_type")
    assert publisher.wait_for_receipts([str(refused.event_id)], timeout_s=5) == {
        str(refused.event_id): by_ref
    }
    with pytest.raises(ReceiptTimeout):
        publisher.wait_for_receipt(silent.event_id, timeout_s=1)
    assert publisher.undecodable_receipts == 1
    assert publisher.receipts(timeout_s=0) == [got, by_ref]


class Responder:
    """Stands in for the referral service: answers every submission on the intake topic with a receipt
    (a rejection for contacts), until stopped."""

    def __init__(self, bootstrap: str, topics: dict[str, str]) -> None:
        self.bootstrap, self.topics = bootstrap, topics
        self.stop = threading.Event()
        self.answered = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        source = consumer(self.bootstrap, None, "joinedup-test-responder")
        sink = producer(self.bootstrap, "joinedup-test-responder")
        intake = self.topics[intake_topic(AGENCY)]
        partitions = [TopicPartition(intake, p) for p in sorted(source.partitions_for_topic(intake) or ())]
        source.assign(partitions)
        source.seek_to_beginning(*partitions)
        try:
            while not self.stop.is_set():
                for batch in source.poll(timeout_ms=200).values():
                    for message in batch:
                        record = default_codec().decode(message.value)
                        assert isinstance(record, IntakeRecord)
                        receipt = receipt_for(record, reject=isinstance(record, ContactRecord))
                        sink.send(
                            self.topics[receipts_topic(AGENCY)],
                            key=submission_ref(record).encode(),
                            value=default_codec().encode(receipt),
                        )
                        self.answered += 1
                sink.flush()
        finally:
            source.close()
            sink.close()


def test_joinedup_publish_sends_a_file_and_prints_every_receipt(
    kafka_bootstrap: str, unique_prefix: str, topics: dict[str, str]
) -> None:
    responder = Responder(kafka_bootstrap, topics)
    responder.thread.start()
    app = typer.Typer()
    register(app)
    try:
        result = CliRunner().invoke(
            app,
            [
                "publish",
                "--agency",
                AGENCY,
                "--bootstrap",
                kafka_bootstrap,
                "--topic-prefix",
                unique_prefix,
                "--timeout",
                "30",
                str(EXAMPLES / "police.jsonl"),
            ],
            env={"COLUMNS": "250"},
        )
    finally:
        responder.stop.set()
        responder.thread.join(timeout=10)
    assert result.exit_code == 1, result.output  # the contact record is rejected
    assert "accepted line 1: ReferralSubmission POL-2026-004512 events: " in result.output
    assert (
        "rejected line 2: ContactRecord GMP-INC-2026-77120: unknown-contact-type field contact_type: "
        in result.output
    )
    assert "accepted line 3: ConsentStatement GMP-CONSENT-5531" in result.output
    assert "3 published, 2 accepted, 1 rejected, 0 without receipt" in result.output
    assert responder.answered == 3
    messages = read_all(kafka_bootstrap, topics[intake_topic(AGENCY)], 3)
    assert sorted(m.key for m in messages) == [
        b"police/GMP-CONSENT-5531",
        b"police/GMP-INC-2026-77120",
        b"police/POL-2026-004512",
    ]
