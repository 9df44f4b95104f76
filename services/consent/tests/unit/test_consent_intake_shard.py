"""Consent intake through the stream runtime's shard processor (no broker): statements in, canonical events
and receipts in the shard's outbox, committed with the offsets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from joinedup.consent.adapters.intake_shard import ConsentIntakeHandler
from joinedup.consent.adapters.mapping import consent_event_of
from joinedup.consent.adapters.submissions import consent_submission
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.testing import day
from joinedup.consent.domain import ConsentWithdrawn
from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.examples import referral_submission
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import RawRecord, ShardProcessor

MH_INTAKE = "joinedup.intake.nhs-mh-trust"
RECEIVED = day("2026-02-01") + timedelta(seconds=1)


class Shard:
    def __init__(self, path: Path) -> None:
        self.store = ShardStore(path)
        self.processor = ShardProcessor(
            self.store,
            ConsentIntakeHandler(self.store.connection, known_codes()),
            topic_names={},
            group="joinedup.consent.intake",
            source="urn:joinedup:consent",
        )
        self.offset = 0

    def submit(self, *records: AvroRecord | bytes, topic: str = MH_INTAKE) -> list[tuple[str, AvroRecord]]:
        """Process one batch; returns what it put in the outbox (topic, decoded record)."""
        codec = default_codec()
        raws = []
        for record in records:
            value = record if isinstance(record, bytes) else codec.encode(record)
            raws.append(RawRecord(topic, 0, self.offset, to_kafka_timestamp(RECEIVED), b"k", value))
            self.offset += 1
        before = self.store.pending()
        self.processor.process(raws)
        rows = self.store.unsent(0, 1000)[before:]
        return [(row.publication.topic, codec.decode(row.publication.value)) for row in rows]


@pytest.fixture
def shard(tmp_path: Path) -> Iterator[Shard]:
    opened = Shard(tmp_path / "shard-0.sqlite")
    yield opened
    opened.store.close()


def _statement(**overrides: object) -> AvroRecord:
    options: dict[str, object] = {
        "agency": "nhs-mh-trust",
        "person": "MH-1",
        "ref": "CS-1",
        "occurred_at": day("2026-02-01"),
        "valid_from": day("2026-01-01"),
    }
    options.update(overrides)
    return consent_submission(**options)  # type: ignore[arg-type]


def test_an_accepted_statement_yields_its_canonical_event_and_an_accepted_receipt(shard: Shard) -> None:
    published = shard.submit(_statement(kind="withdrawn", purposes=["research-statistics"]))

    (events_topic, event), (receipts_topic, receipt) = published
    assert (events_topic, receipts_topic) == ("joinedup.consent.events", "joinedup.receipts.nhs-mh-trust")
    withdrawn = consent_event_of(event)
    assert isinstance(withdrawn, ConsentWithdrawn)
    assert withdrawn.statement_id == "nhs-mh-trust/CS-1"
    assert withdrawn.effective_at == day("2026-02-01")
    assert event.envelope.recorded_at == RECEIVED  # type: ignore[attr-defined]
    assert isinstance(receipt, SubmissionAccepted)
    assert receipt.submission_type == "joinedup.intake.ConsentStatement"
    assert [str(i) for i in receipt.event_ids] == [withdrawn.event_id]
    assert shard.store.next_offsets() == {(MH_INTAKE, 0): 1}


def test_the_same_statement_again_gets_the_same_receipt_and_no_second_event(shard: Shard) -> None:
    first = shard.submit(_statement())

    again = shard.submit(_statement())

    assert [topic for topic, _ in again] == ["joinedup.receipts.nhs-mh-trust"]
    assert again[0][1] == first[1][1]


def test_a_duplicate_within_one_batch_is_seen_too(shard: Shard) -> None:
    published = shard.submit(_statement(), _statement())

    assert [type(r).__name__ for _, r in published] == [
        "ConsentGiven",
        "SubmissionAccepted",
        "SubmissionAccepted",
    ]


def test_the_same_version_with_other_content_is_rejected_as_a_conflict(shard: Shard) -> None:
    shard.submit(_statement())

    ((_, receipt),) = shard.submit(_statement(purposes=["safeguarding"]))

    assert isinstance(receipt, SubmissionRejected)
    assert (receipt.reason_code, receipt.field) == ("version-conflict", "version")


@pytest.mark.parametrize(
    ("overrides", "reason_code"),
    [
        ({"source_agency": "police"}, "forged-agency"),
        ({"purposes": ["gossip"]}, "unknown-purpose"),
        ({"kind": "maybe"}, "unknown-kind"),
        ({"occurred_at": day("2026-02-02")}, "occurred-in-future"),
        ({"valid_until": day("2025-12-01")}, "invalid-period"),
    ],
    ids=["forged_agency", "unknown_purpose", "unknown_kind", "occurred_in_future", "invalid_period"],
)
def test_a_bad_statement_gets_a_rejected_receipt_and_no_event(
    shard: Shard, overrides: dict[str, object], reason_code: str
) -> None:
    published = shard.submit(_statement(**overrides))

    ((topic, receipt),) = published
    assert topic == "joinedup.receipts.nhs-mh-trust"
    assert isinstance(receipt, SubmissionRejected)
    assert receipt.reason_code == reason_code
    assert "MH-1" not in receipt.message


def test_other_submissions_on_the_intake_topic_are_left_to_the_referral_service(shard: Shard) -> None:
    published = shard.submit(referral_submission(), topic="joinedup.intake.police")

    assert published == []
    assert shard.store.next_offsets() == {("joinedup.intake.police", 0): 1}


def test_undecodable_bytes_are_dead_lettered_and_the_batch_goes_on(shard: Shard) -> None:
    published = shard.submit(b"\xc3\x01garbage", _statement())

    # the outbox keeps input order (a dead letter in its input's place), whatever the batch boundaries
    assert [type(r).__name__ for _, r in published] == ["DeadLetter", "ConsentGiven", "SubmissionAccepted"]
    letter = published[0][1]
    assert isinstance(letter, DeadLetter)
    assert (letter.source_offset, letter.consumer_group) == (0, "joinedup.consent.intake")
    assert shard.store.next_offsets() == {(MH_INTAKE, 0): 2}
