"""Routing undecodable messages to the dead-letter topic, without a broker (fake producer and consumer)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from joinedup.contract.dead_letters import (
    Delivered,
    RoutingTally,
    consume_routing_dead_letters,
    route_undecodable,
)
from joinedup.contract.errors import DecodeError
from joinedup.contract.examples import HostileInput, hostile_inputs, referral_submission
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.serde import Codec


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass
class FakeProducer:
    sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None]] = field(
        default_factory=list
    )
    flushes: int = 0

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        self.sent.append((topic, key, value, headers))

    def flush(self, timeout: float | None = None) -> None:
        self.flushes += 1


@dataclass
class FakeConsumer:
    batches: list[Mapping[Any, Sequence[Message]]]
    commits: int = 0

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> Mapping[Any, Sequence[Message]]:
        return self.batches.pop(0) if self.batches else {}

    def commit(self) -> None:
        self.commits += 1


def messages(payloads: Sequence[bytes], topic: str = "joinedup.intake.police") -> list[Message]:
    return [Message(topic, 0, i, 1_772_443_815_250 + i, f"k{i}".encode(), p) for i, p in enumerate(payloads)]


def test_every_hostile_input_is_rejected_with_its_own_error_quickly(codec: Codec) -> None:
    corpus = hostile_inputs(codec)
    assert len({h.name for h in corpus}) == len(corpus)
    for hostile in corpus:
        started = time.perf_counter()
        with pytest.raises(DecodeError) as caught:
            codec.decode(hostile.payload)
        assert time.perf_counter() - started < 0.5, hostile.name
        assert type(caught.value) is hostile.error, hostile.name


def test_a_batch_is_split_into_delivered_records_and_dead_letters_in_order(codec: Codec) -> None:
    good = codec.encode(referral_submission())
    corpus: list[HostileInput] = hostile_inputs(codec)
    payloads = [good, *[h.payload for h in corpus], good]
    producer = FakeProducer()
    routed = route_undecodable(
        messages(payloads), producer, consumer_group="joinedup.test.route", codec=codec
    )
    assert [d.source.offset for d in routed.delivered] == [0, len(payloads) - 1]
    assert [d.record for d in routed.delivered] == [referral_submission()] * 2
    assert [(letter.source_offset, letter.error_class) for letter in routed.dead_letters] == [
        (i + 1, h.error.__name__) for i, h in enumerate(corpus)
    ]
    assert len(producer.sent) == len(corpus)
    topic, key, value, headers = producer.sent[0]
    assert topic == "joinedup.deadletter"
    assert key == b"joinedup.intake.police/0/1"
    assert value is not None
    letter = codec.decode_as(value, DeadLetter)
    assert letter.payload == corpus[0].payload
    assert letter.key == b"k1"
    assert letter.consumer_group == "joinedup.test.route"
    assert letter.envelope.source_agency == "police"
    assert dict(headers or [])["ce_type"] == b"joinedup.deadletter.DeadLetter"


def test_a_tombstone_is_dead_lettered_as_truncated(codec: Codec) -> None:
    producer = FakeProducer()
    routed = route_undecodable(
        [Message("joinedup.referral.events", 2, 9, 5, None, None)], producer, consumer_group="g", codec=codec
    )
    assert [letter.error_class for letter in routed.dead_letters] == ["Truncated"]
    assert routed.dead_letters[0].payload == b""


def test_a_message_without_a_timestamp_is_dead_lettered_at_the_epoch_not_now(codec: Codec) -> None:
    routed = route_undecodable(
        [Message("t", 0, 0, -1, None, b"junk")], FakeProducer(), consumer_group="g", codec=codec
    )
    assert routed.dead_letters[0].failed_at.year == 1970
    assert routed.dead_letters[0].source_timestamp is None


def test_the_loop_handles_the_good_flushes_the_letters_then_commits_each_batch(codec: Codec) -> None:
    good = codec.encode(referral_submission())
    first = messages([good, b"junk"])
    second = messages([b"\x00", good, good])
    consumer = FakeConsumer([{("t", 0): first}, {}, {("t", 0): second}])
    producer = FakeProducer()
    handled: list[int] = []
    order: list[str] = []

    def handle(batch: Sequence[Delivered]) -> None:
        order.append(f"handle {len(batch)} after {producer.flushes} flushes, {consumer.commits} commits")
        handled.extend(d.source.offset for d in batch)

    tally = consume_routing_dead_letters(
        consumer, producer, handle, consumer_group="g", codec=codec, until=lambda t: t.consumed >= 5
    )
    assert tally == RoutingTally(consumed=5, delivered=3, dead_lettered=2, by_error={"WrongMagic": 2})
    assert handled == [0, 1, 2]
    assert order == ["handle 1 after 0 flushes, 0 commits", "handle 2 after 1 flushes, 1 commits"]
    assert (producer.flushes, consumer.commits) == (2, 2)
