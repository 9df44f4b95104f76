"""The identity worker's dict paths against its model paths: the same resolver input from a canonical event or
an assertion (``resolver_input_of`` / ``resolver_input``), and the same bytes and headers for every identity
event type (``identity_datum`` / ``identity_event``), built from the resolver's own output."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from joinedup.contract.envelope import envelope_for, event_id_for
from joinedup.contract.examples import example
from joinedup.contract.models import identity as contract
from joinedup.contract.models.event import Event
from joinedup.contract.models.referral import ReferralAccepted
from joinedup.contract.models.shared_records import RecordRef as ContractRecordRef
from joinedup.contract.outbox import ShardStore
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import Datum, Input, Output, ShardProcessor, cloud_event_headers
from joinedup.local.synthetic import generate_population
from joinedup.projections.identity import events as domain
from joinedup.projections.identity.mapping import (
    identity_datum,
    identity_event,
    resolver_input,
    resolver_input_of,
)
from joinedup.projections.identity.records import RecordKey
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.rules import AssertionContradictsIdentifiersError
from joinedup.projections.identity.store import InMemoryIdentityStore
from joinedup.projections.identity.stream_handler import IdentityStreamHandler

from .conftest import T0, feed_of

Emitted = list[tuple[domain.AnyIdentityEvent, Event, timedelta]]


def _assertion(kind: type[Event], n: int, first: RecordKey, second: RecordKey) -> Event:
    at = T0 + timedelta(days=1, minutes=n)
    refs = [ContractRecordRef(agency=k.agency, local_person_id=k.local_person_id) for k in (first, second)]
    return kind(
        envelope=envelope_for(
            kind,
            event_id=event_id_for("identity-datum-test", n),
            occurred_at=at,
            recorded_at=at,
            source_agency="dpo-office",
            correlation_id=f"assertion/{n}",
        ),
        assertion_id=f"A-{n}",
        first=refs[0],
        second=refs[1],
        asserted_by="dpo-1",
        reason="checked with the person",
        asserted_at=at,
    )


@pytest.fixture(scope="module")
def emitted() -> Emitted:
    """Every event the resolver emits over a noisy synthetic population, then over assertions that split
    persons and merge others (each with the input that caused it and that input's offset from T0)."""
    feed = feed_of(generate_population(11, 200))
    resolver = IdentityResolver(InMemoryIdentityStore())
    out: Emitted = []

    def feed_one(cause: Event, offset: timedelta) -> None:
        message = resolver_input(cause, T0 + offset)
        assert message is not None
        out.extend((event, cause, offset) for event in resolver.resolve(message))

    for n, event in enumerate(feed.events):
        feed_one(event, timedelta(minutes=n))
    persons: dict[str, list[RecordKey]] = defaultdict(list)
    for key in sorted(resolver.store.record_keys()):
        person = resolver.person_of(key)
        assert person is not None
        persons[person].append(key)
    shared = [keys for _, keys in sorted(persons.items()) if len(keys) > 1]
    for n, keys in enumerate(shared[:5]):
        offset = timedelta(days=1, minutes=n)
        feed_one(_assertion(contract.DifferentPersonsAsserted, n, keys[0], keys[1]), offset)
    merges = 0
    for n, (left, right) in enumerate(zip(shared[5::2], shared[6::2], strict=False)):
        offset = timedelta(days=1, minutes=100 + n)
        try:  # persons with two different valid NHS (or NI) numbers may not be joined
            feed_one(_assertion(contract.SamePersonAsserted, 100 + n, left[0], right[0]), offset)
        except AssertionContradictsIdentifiersError:
            continue
        merges += 1
        if merges == 5:
            break
    return out


def test_the_resolver_output_covers_every_identity_event_type(emitted: Emitted) -> None:
    assert {type(event).__name__ for event, _, _ in emitted} == {
        "PersonCreated",
        "RecordLinked",
        "PersonsMerged",
        "PersonSplit",
        "MatchReviewRequested",
    }


def test_every_identity_event_encodes_to_the_same_bytes_and_headers_as_a_datum_and_as_a_model(
    emitted: Emitted,
) -> None:
    codec = default_codec()
    for event, cause, offset in emitted:
        model = identity_event(event, cause, T0 + offset)
        datum = _datum(event, cause, offset)
        assert datum.avro_name == model.avro_name
        assert datum.event_id == str(model.envelope.event_id)
        assert datum.recorded_at == model.envelope.recorded_at
        assert codec.encode_dict(datum.avro_name, datum.fields) == codec.encode(model)
        assert cloud_event_headers(datum, "k", "s") == cloud_event_headers(model, "k", "s")


def test_a_datum_decodes_to_the_model_it_stands_for(emitted: Emitted) -> None:
    codec = default_codec()
    for event, cause, offset in emitted[:50]:
        datum = _datum(event, cause, offset)
        assert isinstance(datum, Datum)
        assert codec.decode(codec.encode_dict(datum.avro_name, datum.fields)) == identity_event(
            event, cause, T0 + offset
        )


def test_a_naive_event_time_is_refused_on_the_dict_path_as_on_the_model_path(emitted: Emitted) -> None:
    event, cause, offset = emitted[0]
    naive = event.model_copy(update={"occurred_at": event.occurred_at.replace(tzinfo=None)})
    with pytest.raises(ValueError, match="timezone"):
        _datum(naive, cause, offset)
    with pytest.raises(ValueError, match="timezone"):
        identity_event(naive, cause, T0 + offset)


def test_every_input_gives_the_resolver_the_same_message_in_dict_form_as_as_a_model(emitted: Emitted) -> None:
    codec = default_codec()
    causes = {id(cause): cause for _, cause, _ in emitted}
    kinds = set()
    for cause in [*causes.values(), example(ReferralAccepted)]:
        kind, fields = codec.decode_dict(codec.encode(cause))
        from_dict = resolver_input_of(kind.full_name, fields, T0)
        assert from_dict == resolver_input(codec.decode(codec.encode(cause)), T0)
        kinds.add((kind.short_name, type(from_dict).__name__))
    assert kinds == {
        ("ReferralReceived", "RecordObserved"),
        ("ContactRecorded", "RecordObserved"),
        ("SamePersonAsserted", "SamePersonAsserted"),
        ("DifferentPersonsAsserted", "DifferentPersonsAsserted"),
        ("ReferralAccepted", "NoneType"),
    }


class ModelInputs:
    """The identity handler fed models (the runtime's default form) instead of dicts."""

    def __init__(self, handler: IdentityStreamHandler) -> None:
        self.handler = handler

    def handle(self, inputs: Sequence[Input]) -> Sequence[Output]:
        return self.handler.handle(inputs)


def test_the_worker_publishes_the_same_bytes_from_dict_inputs_as_from_model_inputs(tmp_path: Path) -> None:
    persons = 60
    feed = feed_of(generate_population(5, persons))
    outboxes = []
    for name, wrap in (("dicts", False), ("models", True)):
        shard = ShardStore(tmp_path / f"{name}.sqlite")
        handler = IdentityStreamHandler(shard.connection)
        processor = ShardProcessor(
            shard, ModelInputs(handler) if wrap else handler, topic_names={}, group="g", source="s"
        )
        assert processor.reads_datums is not wrap
        for start in range(0, len(feed.raw), 10):
            processor.process(feed.raw[start : start + 10])
        outboxes.append(
            [(r.publication.key, r.publication.value, r.publication.headers) for r in shard.unsent(0, 10**6)]
        )
        shard.close()
    assert outboxes[0] == outboxes[1]
    assert len(outboxes[0]) >= persons  # a PersonCreated each, at least


def _datum(event: domain.AnyIdentityEvent, cause: Event, offset: timedelta) -> Datum:
    return identity_datum(
        event,
        T0 + offset,
        correlation_id=cause.envelope.correlation_id,
        causation_id=cause.envelope.event_id,
    )
