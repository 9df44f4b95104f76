"""Dead letters keep the message as received, where it came from and why, with a replay-stable id."""

from __future__ import annotations

import pytest

from joinedup.contract.dead_letters import dead_letter_for, dead_letter_key, reason_for
from joinedup.contract.errors import DecodeError, TrailingBytes
from joinedup.contract.examples import referral_submission
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.serde import Codec


def _failed(codec: Codec, payload: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        codec.decode(payload)
    return caught.value


def test_an_undecodable_message_becomes_a_dead_letter_that_itself_round_trips(codec: Codec) -> None:
    payload = codec.encode(referral_submission()) + b"junk"
    error = _failed(codec, payload)
    letter = dead_letter_for(
        error,
        source_topic="joinedup.intake.police",
        source_partition=2,
        source_offset=1041,
        source_timestamp_ms=1_772_443_815_250,
        key=b"POL-2026-004512",
        payload=payload,
        consumer_group="joinedup.referral.intake",
    )
    assert letter.payload == payload
    assert letter.error_class == "TrailingBytes"
    assert "4 bytes left" in letter.reason
    assert letter.envelope.source_agency == "police"
    assert letter.failed_at == letter.source_timestamp
    assert codec.decode_as(codec.encode(letter), DeadLetter) == letter


def test_dead_lettering_the_same_message_twice_gives_the_same_event_id() -> None:
    def letter() -> DeadLetter:
        return dead_letter_for(
            TrailingBytes("x"),
            source_topic="joinedup.referral.events",
            source_partition=0,
            source_offset=7,
            source_timestamp_ms=5,
            key=None,
            payload=b"\x00",
            consumer_group="joinedup.projections.view",
        )

    assert letter().envelope.event_id == letter().envelope.event_id
    assert letter().envelope.source_agency == "joinedup"


def test_a_foreign_error_is_kept_by_class_name_only() -> None:
    error = ValueError("Jordan Example has an invalid date of birth")
    assert reason_for(error) == "ValueError while processing the message"


def test_a_dead_letter_needs_a_time_when_the_message_has_none() -> None:
    with pytest.raises(ValueError, match="failed_at"):
        dead_letter_for(
            TrailingBytes("x"),
            source_topic="t",
            source_partition=0,
            source_offset=0,
            source_timestamp_ms=None,
            key=None,
            payload=b"",
            consumer_group="g",
        )


def test_the_dead_letter_key_is_topic_partition_offset() -> None:
    assert dead_letter_key("joinedup.intake.police", 2, 1041) == "joinedup.intake.police/2/1041"
