"""The single-object encoding: marker, fingerprint, body; fingerprints as the Avro specification has them."""

from __future__ import annotations

import io
import json

import pytest
from fastavro import schemaless_reader
from fastavro.schema import fingerprint

from joinedup.contract.errors import EncodeError, SchemaMismatch, UnknownRecord
from joinedup.contract.examples import example, referral_submission
from joinedup.contract.models.intake import ContactRecord, ReferralSubmission
from joinedup.contract.models.shared_records import RecordRef
from joinedup.contract.schemas import ContractRegistry, fingerprint_of
from joinedup.contract.serde import HEADER_SIZE, MAGIC, Codec


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [('"null"', 7195948357588979594), ('"boolean"', -6970731678124411036), ('"int"', 8247732601305521295)],
)
def test_fingerprints_match_the_avro_specification_test_vectors(canonical: str, expected: int) -> None:
    # Values from Avro's share/test/data/schema-tests.txt (signed 64-bit, little-endian bytes on the wire).
    assert (
        int.from_bytes(bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")), "little", signed=True)
        == expected
    )


def test_a_logical_type_does_not_change_the_fingerprint_of_its_underlying_type() -> None:
    # The parsing canonical form keeps only the primitive; apache avro's python package gets this wrong.
    plain = {"type": "record", "name": "a.R", "fields": [{"name": "t", "type": "long"}]}
    logical = {
        "type": "record",
        "name": "a.R",
        "fields": [{"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"}, "doc": "x"}],
    }
    assert fingerprint_of(plain) == fingerprint_of(logical)


def test_an_encoded_message_is_marker_then_fingerprint_then_body(
    codec: Codec, contract: ContractRegistry
) -> None:
    record = referral_submission()
    payload = codec.encode(record)
    current = contract.for_model(ReferralSubmission).current
    assert payload[:2] == MAGIC == b"\xc3\x01"
    assert payload[2:HEADER_SIZE] == current.fingerprint
    body = schemaless_reader(io.BytesIO(payload[HEADER_SIZE:]), current.parsed, None)
    assert isinstance(body, dict)
    assert body["referral_ref"] == record.referral_ref


def test_a_typical_referral_submission_is_about_one_kilobyte(codec: Codec) -> None:
    assert 1000 <= len(codec.encode(referral_submission())) <= 1300


def test_the_encoder_sets_event_type_and_fingerprint_in_the_envelope(
    codec: Codec, contract: ContractRegistry
) -> None:
    record = referral_submission()
    stale = record.model_copy(
        update={
            "envelope": record.envelope.model_copy(update={"event_type": "x", "schema_fingerprint": "0" * 16})
        }
    )
    decoded = codec.decode_as(codec.encode(stale), ReferralSubmission)
    assert decoded.envelope.event_type == "ReferralSubmission"
    assert decoded.envelope.schema_fingerprint == contract.fingerprint_hex(ReferralSubmission)


def test_decoding_gives_back_the_same_model(codec: Codec) -> None:
    record = referral_submission()
    assert codec.decode(codec.encode(record)) == record


def test_encode_many_and_decode_many_work_on_batches(codec: Codec) -> None:
    records = [referral_submission(), example(ContactRecord)]
    assert codec.decode_many(codec.encode_many(records)) == records


def test_decode_many_puts_the_error_in_place_of_a_bad_message(codec: Codec) -> None:
    good = codec.encode(referral_submission())
    results = codec.decode_many([good, good + b"x", good])
    assert results[0] == results[2] == referral_submission()
    assert type(results[1]).__name__ == "TrailingBytes"


def test_decode_as_rejects_a_different_record(codec: Codec) -> None:
    payload = codec.encode(example(ContactRecord))
    with pytest.raises(SchemaMismatch, match=r"expected joinedup\.intake\.ReferralSubmission"):
        codec.decode_as(payload, ReferralSubmission)
    assert codec.decode_as(payload, ContactRecord) == example(ContactRecord)


def test_a_record_without_an_envelope_round_trips_too(codec: Codec) -> None:
    ref = RecordRef(agency="police", local_person_id="P-1")
    assert codec.decode(codec.encode(ref)) == ref


def test_encoding_an_unknown_record_name_is_an_error(codec: Codec) -> None:
    with pytest.raises(UnknownRecord):
        codec.encode_dict("joinedup.intake.Nothing", {})


def test_encoding_data_that_does_not_fit_the_schema_is_an_encode_error(codec: Codec) -> None:
    with pytest.raises(EncodeError, match=r"joinedup\.common\.RecordRef"):
        codec.encode_dict("joinedup.common.RecordRef", {"agency": 7, "local_person_id": None})


def test_writer_of_names_the_schema_version_from_the_header_alone(codec: Codec) -> None:
    version = codec.writer_of(codec.encode(example(ContactRecord)))
    assert (version.full_name, version.version) == ("joinedup.intake.ContactRecord", 2)


def test_every_self_contained_schema_is_valid_json_for_other_languages(contract: ContractRegistry) -> None:
    for name in contract.names():
        text = json.dumps(contract[name].current.schema)
        assert json.loads(text)["name"] == name
