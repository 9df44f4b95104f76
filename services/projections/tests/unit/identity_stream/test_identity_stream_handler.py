"""The identity handler inside the shared runtime's batch transaction (broker-free): outputs, dead letters,
assertions, and byte-identical replays."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from joinedup.contract.envelope import from_kafka_timestamp, to_kafka_timestamp
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.identity import PersonCreated, PersonSplit
from joinedup.contract.models.shared_records import RecordRef
from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import Datum, RawRecord, ShardProcessor
from joinedup.contract.topics import DEAD_LETTER, IDENTITY_ASSERTIONS, IDENTITY_EVENTS
from joinedup.projections.identity import stream_handler
from joinedup.projections.identity.assertion_publisher import build_assertion
from joinedup.projections.identity.explain import export_rows
from joinedup.projections.identity.store_sqlite import SqliteIdentityStore
from joinedup.projections.identity.stream_handler import IdentityStreamHandler
from joinedup.projections.identity.worker import READER, SOURCE

from .conftest import T0, Feed


class Run:
    def __init__(self, path: Path) -> None:
        self.shard = ShardStore(path)
        self.handler = IdentityStreamHandler(self.shard.connection)
        self.processor = ShardProcessor(self.shard, self.handler, topic_names={}, group=READER, source=SOURCE)

    def feed(self, records: list[RawRecord], batch: int = 25) -> None:
        for start in range(0, len(records), batch):
            self.processor.process(records[start : start + batch])

    def outputs(self) -> list[tuple[str, bytes]]:
        return [(row.publication.topic, row.publication.value) for row in self.shard.unsent(0, 1_000_000)]


def assertion_record(
    kind: str, first: RecordRef, second: RecordRef, offset: int, minutes: int, *, about_one: bool = False
) -> RawRecord:
    at = T0 + timedelta(days=30, minutes=minutes)
    event = build_assertion(
        "same" if kind == "same" else "different",
        first,
        second,
        asserted_by="dpo-3",
        reason="checked against the tenancy list",
        at=at,
        assertion_id=uuid.uuid5(uuid.NAMESPACE_URL, f"test-assertion-{offset}"),
        source_agency="council-housing",
    )
    if about_one:  # what a buggy publisher might send: the builder refuses it
        event = event.model_copy(update={"second": first})
    return RawRecord(
        IDENTITY_ASSERTIONS, 0, offset, to_kafka_timestamp(at), None, default_codec().encode(event)
    )


def test_the_same_inputs_into_a_fresh_store_give_byte_identical_identity_events(
    small_feed: Feed, tmp_path: Path
) -> None:
    first, second = Run(tmp_path / "a.sqlite"), Run(tmp_path / "b.sqlite")
    first.feed(small_feed.raw, batch=25)
    second.feed(small_feed.raw, batch=7)
    assert first.outputs() == second.outputs()
    assert {topic for topic, _ in first.outputs()} == {IDENTITY_EVENTS}


def test_identity_events_take_their_times_and_causes_from_the_input(small_feed: Feed, tmp_path: Path) -> None:
    run = Run(tmp_path / "a.sqlite")
    run.feed(small_feed.raw[:1])
    (_topic, value), *_ = run.outputs()
    created = default_codec().decode(value)
    assert isinstance(created, PersonCreated)
    assert created.envelope.recorded_at == from_kafka_timestamp(small_feed.raw[0].timestamp_ms)
    assert created.envelope.causation_id == small_feed.events[0].envelope.event_id
    assert created.model_version == run.handler.resolver.model_version
    assert created.record.local_person_id == small_feed.population.stream()[0].local_person_id


def test_a_redelivered_batch_publishes_nothing_twice(small_feed: Feed, tmp_path: Path) -> None:
    run = Run(tmp_path / "a.sqlite")
    run.feed(small_feed.raw[:40])
    before = run.outputs()
    run.feed(small_feed.raw[:40])  # the runtime skips stale offsets; the store skips processed ids
    assert run.outputs() == before


def test_a_different_persons_assertion_splits_the_person_and_records_who_and_why(
    small_feed: Feed, tmp_path: Path
) -> None:
    run = Run(tmp_path / "a.sqlite")
    run.feed(small_feed.raw)
    rows = export_rows(run.handler.store)
    sizes = Counter(person for _, _, person in rows)
    person = min(p for p, n in sizes.items() if n >= 2)
    a, b = sorted((agency, local) for agency, local, p in rows if p == person)[:2]
    first = RecordRef(agency=a[0], local_person_id=a[1])
    second = RecordRef(agency=b[0], local_person_id=b[1])
    before = len(run.outputs())
    run.feed([assertion_record("different", first, second, 0, 1)])
    events = [default_codec().decode(v) for _, v in run.outputs()[before:]]
    splits = [e for e in events if isinstance(e, PersonSplit)]
    assert splits
    assert all(s.asserted_by == "dpo-3" for s in splits)
    after = {(agency, local): p for agency, local, p in export_rows(run.handler.store)}
    assert after[a] != after[b]


def test_an_assertion_the_rules_refuse_is_dead_lettered_and_changes_nothing(
    small_feed: Feed, tmp_path: Path
) -> None:
    run = Run(tmp_path / "a.sqlite")
    run.feed(small_feed.raw[:20])
    rows = export_rows(run.handler.store)
    before = len(run.outputs())
    one = RecordRef(agency=rows[0][0], local_person_id=rows[0][1])
    other = RecordRef(agency=rows[1][0], local_person_id=rows[1][1])
    good, bad = small_feed.raw[20], assertion_record("same", one, other, 0, 2, about_one=True)
    run.feed([good, bad])
    published = [(t, default_codec().decode(v)) for t, v in run.outputs()[before:]]
    letters = [r for t, r in published if t == DEAD_LETTER]
    assert len(letters) == 1
    assert isinstance(letters[0], DeadLetter)
    assert letters[0].source_topic == IDENTITY_ASSERTIONS
    assert any(t == IDENTITY_EVENTS for t, _ in published)  # the good record of the batch went through
    assert run.shard.next_offsets()[(IDENTITY_ASSERTIONS, 0)] == 1


def test_when_an_output_fails_to_encode_only_its_record_is_dead_lettered_and_the_rest_is_kept_in_the_file(
    small_feed: Feed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime encodes a handler's outputs after ``handle`` returned, under the same savepoint: an output
    that fails to encode rolls back the batch's writes, and the handler must not keep them in memory only."""
    bad = small_feed.events[5].envelope.event_id
    made = stream_handler.identity_datum

    def identity_datum(event: Any, recorded_at: Any, *, correlation_id: str, causation_id: Any) -> Datum:
        datum = made(event, recorded_at, correlation_id=correlation_id, causation_id=causation_id)
        if causation_id == bad:
            return Datum(
                datum.avro_name, {**datum.fields, "person_id": None}, datum.event_id, datum.recorded_at
            )
        return datum

    monkeypatch.setattr(stream_handler, "identity_datum", identity_datum)
    run = Run(tmp_path / "a.sqlite")
    run.feed(small_feed.raw[:10], batch=10)
    run.feed(small_feed.raw[10:12])
    topics = [topic for topic, _ in run.outputs()]
    assert topics.count(DEAD_LETTER) == 1
    kept = {
        (a, local) for a, local, _ in export_rows(SqliteIdentityStore(run.shard.connection, create=False))
    }
    expected = {
        (r.agency, r.local_person_id) for i, r in enumerate(small_feed.population.stream()[:12]) if i != 5
    }
    assert kept == expected
    assert kept == {(a, local) for a, local, _ in export_rows(run.handler.store)}
