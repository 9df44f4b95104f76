"""The stream runtime without a broker: one shard's batch transaction (state, offsets, outbox), dead letters,
and the outbox's sequence numbers."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pytest
from fastavro import schemaless_writer

from joinedup.contract.envelope import envelope_for, event_id_for, from_kafka_timestamp
from joinedup.contract.examples import example
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.intake import ContactRecord
from joinedup.contract.models.receipts import SubmissionAccepted
from joinedup.contract.outbox import Publication, ShardStore, shard_path
from joinedup.contract.serde import MAGIC, Codec
from joinedup.contract.streams import (
    DatumInput,
    Input,
    Output,
    RawRecord,
    ShardProcessor,
    cloud_event_headers,
    consumer_group,
    relay_group,
    transactional_id,
)
from joinedup.contract.topics import DEAD_LETTER

INTAKE = "joinedup.intake.police"
RECEIPTS = "joinedup.receipts.police"
PREFIX = "t1."
NAMES = {INTAKE: PREFIX + INTAKE, RECEIPTS: PREFIX + RECEIPTS, DEAD_LETTER: PREFIX + DEAD_LETTER}
T0 = 1_772_441_000_000


class CountingHandler:
    """Counts inputs in a table of the shard's connection and answers each with a receipt; raises on
    contact ``C-BOOM``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute("CREATE TABLE IF NOT EXISTS seen (contact_ref TEXT PRIMARY KEY)")

    def handle(self, inputs: Sequence[Input]) -> list[Output]:
        outputs = []
        for item in inputs:
            assert isinstance(item.record, ContactRecord)
            if item.record.contact_ref == "C-BOOM":
                raise ValueError("boom")
            self.db.execute("INSERT INTO seen VALUES (?)", (item.record.contact_ref,))
            moment = from_kafka_timestamp(item.timestamp_ms)
            receipt = SubmissionAccepted(
                envelope=envelope_for(
                    SubmissionAccepted,
                    event_id=event_id_for(item.topic, item.partition, item.offset),
                    occurred_at=moment,
                    recorded_at=moment,
                    source_agency="police",
                    correlation_id=item.record.contact_ref,
                ),
                submission_type="ContactRecord",
                submission_ref=item.record.contact_ref,
                event_ids=(),
            )
            outputs.append(Output(RECEIPTS, item.record.contact_ref, receipt))
        return outputs

    def seen(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT contact_ref FROM seen ORDER BY contact_ref")]


def contact(codec: Codec, ref: str) -> bytes:
    return codec.encode(example(ContactRecord).model_copy(update={"contact_ref": ref}))


def raw(offset: int, value: bytes) -> RawRecord:
    return RawRecord(PREFIX + INTAKE, 0, offset, T0 + offset, b"police/key", value)


@pytest.fixture
def store(tmp_path: Path) -> ShardStore:
    return ShardStore(shard_path(tmp_path, "test", 0))


@pytest.fixture
def handler(store: ShardStore) -> CountingHandler:
    return CountingHandler(store.connection)


def processor_of(store: ShardStore, handler: CountingHandler | DatumReader, codec: Codec) -> ShardProcessor:
    return ShardProcessor(
        store,
        handler,
        topic_names=NAMES,
        group="joinedup.test.intake",
        source="urn:joinedup:test",
        codec=codec,
    )


@pytest.fixture
def processor(store: ShardStore, handler: CountingHandler, codec: Codec) -> ShardProcessor:
    return processor_of(store, handler, codec)


def test_names_follow_the_conventions() -> None:
    assert consumer_group("referral", "intake") == "joinedup.referral.intake"
    assert relay_group("referral") == "joinedup.referral.relay"
    assert transactional_id("referral", 2) == "joinedup.referral.shard-2"


def test_a_batch_commits_state_offsets_and_outputs_together(
    processor: ShardProcessor, store: ShardStore, handler: CountingHandler, codec: Codec
) -> None:
    result = processor.process([raw(0, contact(codec, "C-1")), raw(1, contact(codec, "C-2"))])
    assert (result.published, result.dead_letters) == (2, 0)
    assert handler.seen() == ["C-1", "C-2"]
    assert store.next_offsets() == {(PREFIX + INTAKE, 0): 2}
    rows = store.unsent(1, 10)
    assert [r.seq for r in rows] == [1, 2]
    assert {r.publication.topic for r in rows} == {PREFIX + RECEIPTS}
    first = codec.decode(rows[0].publication.value)
    assert isinstance(first, SubmissionAccepted)
    assert first.envelope.event_id == event_id_for(INTAKE, 0, 0)  # the catalog name, not the test prefix
    headers = dict(rows[0].publication.headers)
    assert headers["ce_id"] == str(first.envelope.event_id).encode()
    assert headers["content-type"] == b"application/avro"


def test_records_below_the_committed_offset_are_skipped_not_handled_twice(
    processor: ShardProcessor, handler: CountingHandler, store: ShardStore, codec: Codec
) -> None:
    processor.process([raw(0, contact(codec, "C-1"))])
    again = processor.process([raw(0, contact(codec, "C-1")), raw(1, contact(codec, "C-2"))])
    assert again.stale
    assert handler.seen() == ["C-1", "C-2"]
    assert store.pending() == 2


def test_undecodable_bytes_become_a_dead_letter_and_the_offset_moves_on(
    processor: ShardProcessor, store: ShardStore, codec: Codec
) -> None:
    result = processor.process([raw(0, b"not avro"), raw(1, contact(codec, "C-1"))])
    assert (result.published, result.dead_letters) == (2, 1)
    assert store.next_offsets() == {(PREFIX + INTAKE, 0): 2}
    letters = [r for r in store.unsent(1, 10) if r.publication.topic == PREFIX + DEAD_LETTER]
    letter = codec.decode(letters[0].publication.value)
    assert isinstance(letter, DeadLetter)
    assert (letter.source_offset, letter.payload, letter.error_class) == (0, b"not avro", "WrongMagic")


def test_a_record_the_handler_fails_on_is_dead_lettered_and_the_rest_of_the_batch_is_kept(
    processor: ShardProcessor, handler: CountingHandler, store: ShardStore, codec: Codec
) -> None:
    batch = [raw(0, contact(codec, "C-1")), raw(1, contact(codec, "C-BOOM")), raw(2, contact(codec, "C-3"))]
    result = processor.process(batch)
    assert (result.published, result.dead_letters) == (3, 1)
    assert handler.seen() == ["C-1", "C-3"]
    assert store.next_offsets() == {(PREFIX + INTAKE, 0): 3}
    letter = codec.decode(
        next(r for r in store.unsent(1, 10) if r.publication.topic == PREFIX + DEAD_LETTER).publication.value
    )
    assert isinstance(letter, DeadLetter)
    assert (letter.source_offset, letter.error_class) == (1, "ValueError")


def test_a_batch_that_fails_to_commit_leaves_no_trace(
    processor: ShardProcessor, handler: CountingHandler, store: ShardStore, codec: Codec
) -> None:
    processor.process([raw(0, contact(codec, "C-1"))])
    store.connection.execute("DROP TABLE consumed_offsets")  # the commit's last write will fail
    store.connection.execute(
        "CREATE TABLE consumed_offsets (topic TEXT, partition INTEGER, "
        "next_offset INTEGER CHECK (next_offset < 2), PRIMARY KEY (topic, partition))"
    )
    with pytest.raises(sqlite3.IntegrityError):
        processor.process([raw(1, contact(codec, "C-2"))])
    assert handler.seen() == ["C-1"]
    assert store.pending() == 1


def test_rows_below_the_relay_position_are_forgotten_and_new_rows_follow_them(tmp_path: Path) -> None:
    with ShardStore(tmp_path / "a.sqlite") as store:
        store.append([Publication("t", b"k", b"v1"), Publication("t", b"k", b"v2")])
        store.resume_at(3)  # Kafka says rows 1 and 2 are out
        assert store.pending() == 0
        store.append([Publication("t", b"k", b"v3")])
        assert [r.seq for r in store.unsent(1, 10)] == [3]


def test_a_store_rebuilt_without_numbering_alike_renumbers_its_rows_after_the_relay_position(
    tmp_path: Path,
) -> None:
    with ShardStore(tmp_path / "fresh.sqlite") as fresh:
        fresh.append([Publication("t", None, b"a"), Publication("t", None, b"b")])
        fresh.resume_at(10)  # every row is published again, none under a number Kafka counts as out
        assert [(r.seq, r.publication.value) for r in fresh.unsent(1, 10)] == [(10, b"a"), (11, b"b")]
        fresh.append([Publication("t", None, b"c")])
        assert [r.seq for r in fresh.unsent(1, 10)] == [10, 11, 12]


def test_a_store_rebuilt_from_offset_0_publishes_only_what_lies_beyond_the_relay_position(
    tmp_path: Path, store: ShardStore, handler: CountingHandler, codec: Codec
) -> None:
    batch = [raw(n, contact(codec, f"C-{n}")) for n in range(5)]
    lost = ShardProcessor(store, handler, topic_names=NAMES, group="g", source="s", codec=codec)
    lost.process(batch[:4])
    published = [r.publication for r in store.unsent(1, 3)]  # the relay got rows 1-3 out: position 4
    rebuilt = ShardStore(tmp_path / "rebuilt.sqlite")
    processor = ShardProcessor(
        rebuilt, CountingHandler(rebuilt.connection), topic_names=NAMES, group="g", source="s", codec=codec
    )
    rebuilt.resume_at(4, replays_number_alike=True)  # its relay connects before the replay numbered so far
    processor.process(batch[:2])
    processor.process(batch[2:])
    replayed = rebuilt.unsent(1, 10)
    assert [r.publication for r in replayed[:3]] == published  # the same rows under the same numbers
    rebuilt.mark_sent(4)  # what the relay does before it publishes
    assert [(r.seq, r.publication.key) for r in rebuilt.unsent(4, 10)] == [(4, b"C-3"), (5, b"C-4")]


def test_the_outbox_numbers_outputs_in_input_order_however_the_batches_are_cut(
    tmp_path: Path, codec: Codec
) -> None:
    inputs = [
        raw(0, contact(codec, "C-0")),
        raw(1, b"not avro"),
        raw(2, contact(codec, "C-BOOM")),
        raw(3, contact(codec, "C-3")),
    ]
    numbered: list[list[bytes | None]] = []
    for cuts in ([4], [1, 3], [2, 1, 1]):
        store = ShardStore(tmp_path / f"{len(cuts)}.sqlite")
        processor = ShardProcessor(
            store, CountingHandler(store.connection), topic_names=NAMES, group="g", source="s", codec=codec
        )
        start = 0
        for size in cuts:
            processor.process(inputs[start : start + size])
            start += size
        numbered.append([r.publication.value for r in store.unsent(1, 10)])
        store.close()
    assert numbered[0] == numbered[1] == numbered[2]
    assert len(numbered[0]) == 4


def test_sent_rows_never_give_their_numbers_back(tmp_path: Path) -> None:
    with ShardStore(tmp_path / "s.sqlite") as store:
        store.append([Publication("t", None, b"1"), Publication("t", None, b"2")])
        store.mark_sent(3)
        store.append([Publication("t", None, b"3")])
        assert [r.seq for r in store.unsent(1, 10)] == [3]


def test_headers_carry_the_cloudevents_attributes() -> None:
    record = example(ContactRecord)
    headers = dict(cloud_event_headers(record, "police/C-1", "urn:joinedup:test"))
    assert headers["ce_type"] == b"joinedup.intake.ContactRecord"
    subject = record.envelope.subject
    assert subject is not None
    assert headers["ce_subject"] == f"{subject.agency}/{subject.local_person_id}".encode()
    assert headers["ce_time"] == record.envelope.occurred_at.isoformat().encode()
    assert headers["ce_id"] == str(record.envelope.event_id).encode()


def test_a_redelivery_below_the_handled_mark_changes_nothing_and_publishes_nothing(
    processor: ShardProcessor, handler: CountingHandler, store: ShardStore, codec: Codec
) -> None:
    processor.process([raw(0, contact(codec, "C-1")), raw(1, contact(codec, "C-2"))])
    store.connection.execute("UPDATE consumed_offsets SET next_offset = 0")  # the read position moved back
    again = processor.process(
        [raw(0, contact(codec, "C-1")), raw(1, contact(codec, "C-2")), raw(2, contact(codec, "C-3"))]
    )
    assert (again.redelivered, again.published, again.stale) == (2, 1, True)
    assert handler.seen() == ["C-1", "C-2", "C-3"]
    assert store.pending() == 3
    assert store.next_offsets() == store.handled_offsets() == {(PREFIX + INTAKE, 0): 3}


def test_a_redelivered_poison_record_is_not_dead_lettered_twice(
    processor: ShardProcessor, store: ShardStore, codec: Codec
) -> None:
    processor.process([raw(0, b"not avro")])
    store.connection.execute("DELETE FROM consumed_offsets")
    again = processor.process([raw(0, b"not avro"), raw(1, contact(codec, "C-1"))])
    assert (again.redelivered, again.dead_letters, again.published) == (1, 0, 1)
    assert store.pending() == 2


def test_the_handled_mark_never_moves_back(store: ShardStore) -> None:
    with store.transaction():
        store.save_offsets({("t", 0): 5, ("t", 1): 2})
    with store.transaction():
        store.save_offsets({("t", 0): 1})
    assert store.next_offsets() == {("t", 0): 1, ("t", 1): 2}
    assert store.handled_offsets() == {("t", 0): 5, ("t", 1): 2}


def test_a_store_made_before_the_handled_mark_takes_it_from_its_consumed_offsets(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with ShardStore(path) as store:
        with store.transaction():
            store.save_offsets({("t", 0): 7})
        store.connection.execute("DROP TABLE handled_offsets")
    with ShardStore(path) as reopened:
        assert reopened.handled_offsets() == {("t", 0): 7}


class DatumReader:
    """Asks for its inputs in dict form (``reads_datums``) and keeps them; raises on contact ``C-BOOM``."""

    reads_datums: Literal[True] = True

    def __init__(self) -> None:
        self.inputs: list[DatumInput] = []

    def handle(self, inputs: Sequence[DatumInput]) -> list[Output]:
        for item in inputs:
            if item.fields["contact_ref"] == "C-BOOM":
                raise ValueError("boom")
        self.inputs.extend(inputs)
        return []


def test_a_handler_that_reads_datums_gets_the_dict_form_of_each_input_and_bad_bytes_are_still_dead_lettered(
    store: ShardStore, codec: Codec
) -> None:
    reader = DatumReader()
    processor = processor_of(store, reader, codec)
    good = contact(codec, "C-1")
    result = processor.process(
        [
            raw(0, good),
            raw(1, good + b"\x00"),
            raw(2, contact(codec, "C-BOOM")),
            raw(3, contact(codec, "C-2")),
        ]
    )
    assert (result.published, result.dead_letters) == (2, 2)
    assert [(i.topic, i.offset, i.avro_name) for i in reader.inputs] == [
        (INTAKE, 0, ContactRecord.avro_name),
        (INTAKE, 3, ContactRecord.avro_name),
    ]
    assert ContactRecord.model_validate(reader.inputs[0].fields) == codec.decode(good)
    letters = [codec.decode(r.publication.value) for r in store.unsent(1, 10)]
    assert [(type(d).__name__, getattr(d, "source_offset", None)) for d in letters] == [
        ("DeadLetter", 1),
        ("DeadLetter", 2),
    ]
    assert store.next_offsets() == {(PREFIX + INTAKE, 0): 4}


def test_a_handler_that_reads_datums_gets_an_older_schema_versions_record_in_the_current_schema(
    store: ShardStore, codec: Codec
) -> None:
    record = codec.contract.for_model(ContactRecord)
    old = record.versions[0]
    assert old is not record.current
    data = example(ContactRecord).model_dump(exclude={"duration_minutes"})
    data["envelope"]["schema_fingerprint"] = old.fingerprint_hex
    body = io.BytesIO()
    schemaless_writer(body, old.parsed, data)
    written = MAGIC + old.fingerprint + body.getvalue()
    reader = DatumReader()
    processor = processor_of(store, reader, codec)
    assert processor.process([raw(0, written)]).dead_letters == 0
    (item,) = reader.inputs
    assert "duration_minutes" in item.fields  # filled from the current schema's default, as for a model
    assert ContactRecord.model_validate(item.fields) == codec.decode(written)
