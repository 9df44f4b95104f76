"""A corpus of hostile inputs: each is rejected with its typed error, quickly, and nothing else escapes.

fastavro 1.13 alone accepts trailing bytes, decodes bytes written with another schema into nonsense and spins
for as long as an array claims items; the decoder's pre-scan and checks must turn each into a DecodeError.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.contract.errors import (
    DecodeError,
    LimitExceeded,
    Malformed,
    SchemaMismatch,
    TrailingBytes,
    Truncated,
    UnknownFingerprint,
    WrongMagic,
)
from joinedup.contract.examples import all_examples, example, hostile_inputs, referral_submission, zigzag
from joinedup.contract.models.event import Event
from joinedup.contract.models.intake import ContactRecord, ReferralSubmission
from joinedup.contract.models.shared_records import ConsentScope
from joinedup.contract.prescan import Limits
from joinedup.contract.schemas import ContractRegistry, SchemaTree
from joinedup.contract.serde import HEADER_SIZE, MAGIC, Codec

BOUND_S = 0.5
"""Every hostile input must be rejected within this time (the 2^40-item array hangs fastavro for > 10 s)."""


def rejected_with(codec: Codec, payload: bytes) -> type[DecodeError]:
    started = time.perf_counter()
    with pytest.raises(DecodeError) as caught:
        codec.decode(payload)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND_S, f"took {elapsed:.3f} s"
    return type(caught.value)


def header(codec: Codec, model: type[Event] | type[ConsentScope]) -> bytes:
    return MAGIC + codec.contract.for_model(model).current.fingerprint


@pytest.mark.timeout(20)
def test_a_7_byte_body_claiming_2_to_the_40_items_is_rejected_at_once(codec: Codec) -> None:
    body = zigzag(2**40) + b"\x00"
    assert len(body) == 7
    assert rejected_with(codec, header(codec, ConsentScope) + body) is LimitExceeded


@pytest.mark.timeout(20)
def test_an_array_of_empty_items_cannot_make_the_decoder_spin(tmp_path: Path) -> None:
    # The exact shape that hangs fastavro: an array whose items take no bytes. Lint forbids it in schemas/,
    # but the decoder must still not trust the count.
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "joinedup.test.Spin.avsc").write_text(
        '{"type": "record", "name": "Spin", "namespace": "joinedup.test", "doc": "x",'
        ' "fields": [{"name": "xs", "type": {"type": "array", "items": "null"}, "doc": "x"}]}'
    )
    codec = Codec(ContractRegistry(SchemaTree.from_directory(tmp_path), models=()))
    fp = codec.contract["joinedup.test.Spin"].current.fingerprint
    assert rejected_with(codec, MAGIC + fp + zigzag(2**40) + b"\x00") is LimitExceeded
    _, data = codec.decode_dict(MAGIC + fp + zigzag(3) + b"\x00")
    assert data == {"xs": [None, None, None]}


def test_trailing_bytes_after_a_valid_message_are_rejected(codec: Codec) -> None:
    payload = codec.encode(referral_submission())
    for junk in (b"\x00", b"junk", payload):
        assert rejected_with(codec, payload + junk) is TrailingBytes


def test_every_truncation_of_a_valid_message_is_rejected_as_truncated(codec: Codec) -> None:
    payload = codec.encode(referral_submission())
    for length in range(len(payload)):
        assert rejected_with(codec, payload[:length]) is Truncated, f"cut at {length}"


def test_a_body_written_with_another_schema_is_never_accepted(codec: Codec) -> None:
    messages = [m for m in all_examples() if isinstance(m, Event)]
    for written in messages:
        body = codec.encode(written)[HEADER_SIZE:]
        for claimed in messages:
            if type(claimed) is type(written):
                continue
            kind = rejected_with(codec, header(codec, type(claimed)) + body)
            assert kind in (SchemaMismatch, Truncated, TrailingBytes, Malformed, LimitExceeded)


def test_a_body_of_the_old_version_under_the_new_fingerprint_is_rejected(codec: Codec) -> None:
    record = codec.contract.for_model(ContactRecord)
    old, new = record.versions[0], record.current
    data = example(ContactRecord).model_dump(exclude={"duration_minutes"})
    data["envelope"]["schema_fingerprint"] = old.fingerprint_hex
    buffer = io.BytesIO()
    schemaless_writer(buffer, old.parsed, data)
    assert rejected_with(codec, MAGIC + new.fingerprint + buffer.getvalue()) is Truncated


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x00\x00\x00\x01" + b"\x02" * 20,  # Confluent wire format (magic 0, schema id)
        b'{"type": "ReferralSubmission"}',  # JSON
        b"\xc3\x02" + b"\x00" * 20,  # wrong version byte
        b"\x01\xc3" + b"\x00" * 20,
        b"Obj\x01",  # an Avro container file
    ],
)
def test_a_message_without_the_single_object_marker_is_wrong_magic(codec: Codec, payload: bytes) -> None:
    assert rejected_with(codec, payload) is WrongMagic


def test_an_unknown_fingerprint_is_rejected(codec: Codec) -> None:
    payload = codec.encode(referral_submission())
    forged = payload[:2] + bytes(b ^ 0xFF for b in payload[2:HEADER_SIZE]) + payload[HEADER_SIZE:]
    assert rejected_with(codec, forged) is UnknownFingerprint


def test_a_message_larger_than_the_limit_is_rejected_before_anything_else(codec: Codec) -> None:
    payload = b"\xc3\x01" + b"\x00" * (codec.limits.max_message_bytes - 1)
    assert rejected_with(codec, payload) is LimitExceeded


def test_a_string_longer_than_the_limit_is_rejected(codec: Codec) -> None:
    small = Codec(codec.contract, Limits(max_string_bytes=100))
    record = referral_submission()  # its summary is longer than 100 bytes
    assert rejected_with(small, codec.encode(record)) is LimitExceeded


def test_a_string_claiming_more_bytes_than_remain_is_truncated(codec: Codec) -> None:
    assert rejected_with(codec, header(codec, ConsentScope) + b"\x02" + zigzag(60_000) + b"ab") is Truncated


def test_an_array_longer_than_the_limit_is_rejected(codec: Codec) -> None:
    data = example(ConsentScope).model_dump()
    data["purposes"] = ["direct-care"] * 10_001
    payload = codec.encode_dict(ConsentScope.avro_name, data)
    assert rejected_with(codec, payload) is LimitExceeded


def test_an_array_claiming_more_items_than_bytes_remain_is_truncated(codec: Codec) -> None:
    assert rejected_with(codec, header(codec, ConsentScope) + zigzag(5_000) + b"\x00\x00") is Truncated


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (zigzag(-1) + zigzag(-5) + b"\x02a\x00\x00\x00\x00", Malformed),  # negative block size
        (zigzag(1) + zigzag(-1) + b"\x00\x00\x00", Malformed),  # negative string length
        (b"\x02\x04\xff\xfe\x00\x00\x00\x00", Malformed),  # invalid UTF-8
        (b"\xff" * 11 + b"\x00\x00\x00", Malformed),  # varint longer than 10 bytes
    ],
)
def test_bytes_that_break_the_encoding_rules_are_malformed(
    codec: Codec, body: bytes, expected: type[DecodeError]
) -> None:
    assert rejected_with(codec, header(codec, ConsentScope) + body) is expected


def test_a_union_branch_out_of_range_is_malformed(codec: Codec) -> None:
    payload = bytearray(codec.encode(example(ContactRecord)))
    assert payload[-1] == 0x02  # duration_minutes: branch 1 (int) then the value 1
    payload[-2] = 0x06  # branch 3 of a two-branch union
    assert rejected_with(codec, bytes(payload)) is Malformed


def test_a_forged_envelope_event_type_is_a_schema_mismatch(codec: Codec) -> None:
    data = referral_submission().model_dump()
    payload = codec.encode_dict(ReferralSubmission.avro_name, data)
    forged = payload.replace(b"ReferralSubmission", b"ReferralSubmissioN", 1)
    assert rejected_with(codec, forged) is SchemaMismatch


def test_a_bad_uuid_in_the_envelope_is_rejected(codec: Codec) -> None:
    payload = codec.encode(referral_submission())
    event_id = str(referral_submission().envelope.event_id).encode()
    forged = payload.replace(event_id, b"x" * len(event_id), 1)
    assert issubclass(rejected_with(codec, forged), DecodeError)


def test_the_reason_of_a_decode_error_names_no_personal_data(codec: Codec) -> None:
    record = referral_submission()
    payload = codec.encode(record)
    for bad in (payload[:-40], payload + b"x", payload.replace(b"Example", b"Ex\xffmple")):
        with pytest.raises(DecodeError) as caught:
            codec.decode(bad)
        for secret in ("Example", "9434765919", "943 476 5919", "AB123456C", "Jordan"):
            assert secret not in caught.value.reason


def _never_escapes(codec: Codec, payload: bytes) -> None:
    started = time.perf_counter()
    with contextlib.suppress(DecodeError):
        codec.decode(payload)
    assert time.perf_counter() - started < BOUND_S


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_bytes_after_a_real_header_only_ever_raise_decode_errors(
    codec: Codec, data: st.DataObject
) -> None:
    models = sorted(codec.contract.names())
    name = data.draw(st.sampled_from(models))
    fp = codec.contract[name].current.fingerprint
    _never_escapes(codec, MAGIC + fp + data.draw(st.binary(max_size=300)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupting_bytes_of_a_valid_message_only_ever_raises_decode_errors(
    codec: Codec, data: st.DataObject
) -> None:
    payload = bytearray(codec.encode(referral_submission()))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(HEADER_SIZE, len(payload) - 1))
        payload[position] = data.draw(st.integers(0, 255))
    _never_escapes(codec, bytes(payload))


def test_corpus_rejection_helper_fails_on_a_valid_message(codec: Codec) -> None:
    valid = codec.encode(referral_submission())
    check: Callable[[Codec, bytes], type[DecodeError]] = rejected_with
    with pytest.raises(pytest.fail.Exception):
        check(codec, valid)


@pytest.mark.timeout(20)
def test_every_input_of_the_shared_hostile_corpus_is_rejected_with_its_error(codec: Codec) -> None:
    corpus = hostile_inputs(codec)
    assert len(corpus) >= 10
    for hostile in corpus:
        assert rejected_with(codec, hostile.payload) is hostile.error, hostile.name
