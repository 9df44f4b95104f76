"""One valid, deterministic, synthetic instance of every record: for docs, benchmarks, demos and tests.

``example(Model)`` fills every field (optional ones too) from the record's schema, with vocabulary codes that
exist and values that pass the identifier checks. ``referral_submission()`` is a realistic ~1.1 KB
submission, the one docs/contract.md walks through byte by byte. ``hostile_inputs()`` is a corpus of bytes a
decoder must reject, each with the error it must raise. All people here are invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from joinedup.contract.envelope import event_id_for
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
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.intake import ContactRecord, ReferralSubmission
from joinedup.contract.models.referral import ReferralAccepted, ReferralClosed
from joinedup.contract.models.shared_records import (
    ConsentScope,
    Envelope,
    OtherIdentifier,
    PersonRecord,
    RecordRef,
)
from joinedup.contract.schemas import ContractRegistry, registry
from joinedup.contract.serde import HEADER_SIZE, MAGIC, Codec, default_codec
from joinedup.contract.vocabularies import Vocabularies, vocabularies

R = TypeVar("R", bound=AvroRecord)

EXAMPLE_TIME = datetime(2026, 3, 2, 9, 30, 15, 250_000, tzinfo=UTC)
EXAMPLE_RECORDED = datetime(2026, 3, 2, 9, 30, 16, 4_000, tzinfo=UTC)

_STRINGS = {
    "local_person_id": "P-000123",
    "nhs_number": "9434765919",
    "ni_number": "AB123456C",
    "given_names": "Jordan Alex",
    "family_name": "Example",
    "sex": "female",
    "postcode": "M6 5AB",
    "phone": "0161 496 0000",
    "email": "jordan.example@example.org",
    "scheme": "mosaic-case-number",
    "value": "MC-55821",
    "urgency": "urgent",
    "captured_by": "user-4411",
    "registered_by": "dpo-07",
    "ended_by": "dpo-07",
    "requested_by": "dpo-07",
    "asserted_by": "user-4411",
    "user_id": "user-4411",
    "role": "caseworker",
    "request": "GET /v1/persons/{person_id}",
    "person_id": "person-000001",
    "surviving_person_id": "person-000001",
    "absorbed_person_id": "person-000002",
    "new_person_id": "person-000003",
    "candidate_person_id": "person-000002",
    "model_version": "identity-rules-1",
    "rule": "nhs-number",
    "legal_reference": "Care Act 2014 s.6; UK GDPR Art 6(1)(e), Art 9(2)(h)",
    "reason_code": "unknown-code",
    "message": "to_agency is not a known agency",
    "field": "to_agency",
    "error_class": "TrailingBytes",
    "consumer_group": "joinedup.referral.intake",
    "source_topic": "joinedup.intake.police",
    "prev_hash": "0" * 64,
    "hash": "5" * 64,
    "equivalence_group": "housing-needs",
    "submission_type": "joinedup.intake.ReferralSubmission",
}
_AGENCIES = {
    "referring_agency": "police",
    "to_agency": "council-housing",
    "agency": "council-housing",
    "owner_agency": "police",
}


def example(model: type[R], contract: ContractRegistry | None = None) -> R:
    """A deterministic instance of ``model`` with every field filled."""
    return model.model_validate(example_dict(model.avro_name, contract))


def example_dict(full_name: str, contract: ContractRegistry | None = None) -> dict[str, Any]:
    """The same, in fastavro's dict form."""
    found = (contract or registry())[full_name]
    value = _Filler(vocabularies(), full_name, contract or registry()).value(found.current.schema, "")
    if not isinstance(value, dict):
        raise TypeError(f"{full_name} is not a record")
    if "envelope" in value:
        value["envelope"].update(
            event_type=found.short_name,
            schema_fingerprint=found.current.fingerprint_hex,
            source_agency="police",
            correlation_id=f"example/{found.short_name}",
            causation_id=None,
        )
    return value


def all_examples(contract: ContractRegistry | None = None) -> list[AvroRecord]:
    """One example of every record that has a model, sorted by full name."""
    found = contract or registry()
    return [example(r.model, found) for r in found.records.values() if r.model is not None]


def referral_submission(contract: ContractRegistry | None = None) -> ReferralSubmission:
    """A realistic referral from the police to council housing (about 1.1 KB on the wire)."""
    found = (contract or registry()).for_model(ReferralSubmission)
    return ReferralSubmission(
        envelope=Envelope(
            event_id=event_id_for("police", "ReferralSubmission", "POL-2026-004512"),
            event_type=found.short_name,
            occurred_at=EXAMPLE_TIME,
            recorded_at=EXAMPLE_RECORDED,
            source_agency="police",
            correlation_id="police/POL-2026-004512",
            subject=RecordRef(agency="police", local_person_id="GMP-PERSON-88213"),
            schema_fingerprint=found.current.fingerprint_hex,
        ),
        referral_ref="POL-2026-004512",
        subject=PersonRecord(
            local_person_id="GMP-PERSON-88213",
            nhs_number="943 476 5919",
            ni_number="AB123456C",
            given_names="Jordan Alex",
            family_name="Example",
            date_of_birth=date(1994, 7, 21),
            sex="female",
            address_lines=("Flat 4", "12 Example Street", "Salford"),
            postcode="M6 5AB",
            phone="0161 496 0000",
            email="jordan.example@example.org",
            other_identifiers=(OtherIdentifier(scheme="pnc-id", value="26/123456X"),),
        ),
        to_agency="council-housing",
        to_service="homelessness-prevention",
        need_codes=("accommodation", "domestic-abuse", "mental-health"),
        requested_assessment_type="hra-s189a",
        urgency="urgent",
        referred_at=EXAMPLE_TIME,
        data_categories=("identity", "criminal-justice", "housing"),
        summary=(
            "Officers attended a domestic incident at the address in the early hours. The person disclosed "
            "that the tenancy ends on Friday after a section 21 notice and that they have nowhere safe to "
            "stay; they have two children who stay with them at weekends. They reported low mood and said "
            "they had stopped taking prescribed medication. They consented to this referral and asked to be "
            "contacted by phone after 10am. Third police attendance at this address in six weeks; a DASH "
            "risk assessment was completed (medium). Please consider the homelessness prevention duty and "
            "an assessment under s.189A; the person has asked that information is shared with their GP."
        ),
    )


class _Filler:
    def __init__(self, vocab: Vocabularies, full_name: str, contract: ContractRegistry) -> None:
        self.vocab = vocab
        self.full_name = full_name
        self.contract = contract

    def value(self, schema: Any, field: str, props: dict[str, Any] | None = None) -> Any:
        props = props or {}
        if isinstance(schema, list):
            branch = next(b for b in schema if b != "null")
            return self.value(branch, field, props)
        if isinstance(schema, dict):
            kind = schema["type"]
            logical = schema.get("logicalType")
            if kind == "record":
                return {f["name"]: self.value(f["type"], f["name"], f) for f in schema["fields"]}
            if kind == "array":
                return [self.value(schema["items"], field, props)]
            if logical == "timestamp-micros":
                return EXAMPLE_TIME
            if logical == "date":
                return date(1994, 7, 21)
            if logical == "uuid":
                return event_id_for("example", self.full_name, field)
            return self.value(kind, field, props)
        if isinstance(schema, str) and schema.startswith("joinedup."):
            found = self.contract[schema]
            return self.value(found.current.schema, field, props)
        return self._primitive(schema, field, props)

    def _primitive(self, kind: str, field: str, props: dict[str, Any]) -> Any:
        if kind == "string":
            return self._string(field, props)
        if kind in ("int", "long"):
            return 1
        if kind == "double":
            return 12.5
        if kind == "boolean":
            return False
        if kind == "bytes":
            return b"\xc3\x01not-a-valid-message"
        raise TypeError(f"no example for Avro type {kind}")

    def _string(self, field: str, props: dict[str, Any]) -> str:
        vocabulary = props.get("vocabulary")
        if vocabulary == "agencies":
            return _AGENCIES.get(field, "police")
        if isinstance(vocabulary, str):
            codes = getattr(self.vocab, vocabulary).codes
            return str(codes[0].code)
        allowed = props.get("allowed")
        if isinstance(allowed, list) and allowed:
            return str(allowed[0])
        return _STRINGS.get(field, f"{field.replace('_', '-')}-1")


# ---------------------------------------------------------------------------------------------- hostile bytes


@dataclass(frozen=True)
class HostileInput:
    """Bytes a decoder must reject, and the :class:`DecodeError` subclass it must reject them with."""

    name: str
    payload: bytes
    error: type[DecodeError]


def zigzag(value: int) -> bytes:
    """Avro's zig-zag varint encoding of an int or long."""
    encoded = (value << 1) ^ (value >> 63)
    out = bytearray()
    while encoded > 0x7F:
        out.append((encoded & 0x7F) | 0x80)
        encoded >>= 7
    out.append(encoded)
    return bytes(out)


def hostile_inputs(codec: Codec | None = None) -> list[HostileInput]:
    """One of each kind of hostile input (the three fastavro accepts or hangs on, truncations, wrong magic,
    unknown fingerprint, oversized, malformed, forged), each under 100 KB so it fits in a Kafka message."""
    found = codec or default_codec()
    contract = found.contract
    valid = found.encode(referral_submission(contract))

    def header(model: type[AvroRecord]) -> bytes:
        return MAGIC + contract.for_model(model).current.fingerprint

    oversized = referral_submission(contract).model_copy(
        update={"summary": "x" * (found.limits.max_string_bytes + 1)}
    )
    forged_fingerprint = valid[:2] + bytes(b ^ 0xFF for b in valid[2:HEADER_SIZE]) + valid[HEADER_SIZE:]
    return [
        HostileInput(
            "array claiming 2^40 items", header(ConsentScope) + zigzag(2**40) + b"\x00", LimitExceeded
        ),
        HostileInput("trailing bytes", valid + b"junk", TrailingBytes),
        HostileInput("a valid message twice", valid + valid, TrailingBytes),
        HostileInput("cut in the body", valid[: len(valid) // 2], Truncated),
        HostileInput("cut in the header", valid[:6], Truncated),
        HostileInput("empty value", b"", Truncated),
        HostileInput(
            "another record's body",
            header(ReferralSubmission) + found.encode(example(ContactRecord, contract))[HEADER_SIZE:],
            Malformed,
        ),
        HostileInput(
            "a same-shaped record's body",
            header(ReferralAccepted) + found.encode(example(ReferralClosed, contract))[HEADER_SIZE:],
            SchemaMismatch,
        ),
        HostileInput("Confluent wire format", b"\x00\x00\x00\x00\x01" + b"\x02" * 20, WrongMagic),
        HostileInput("JSON", b'{"type": "ReferralSubmission"}', WrongMagic),
        HostileInput("unknown fingerprint", forged_fingerprint, UnknownFingerprint),
        HostileInput("string over the limit", found.encode(oversized), LimitExceeded),
        HostileInput("invalid UTF-8", valid.replace(b"Example", b"Ex\xffmple", 1), Malformed),
        HostileInput(
            "negative string length",
            header(ConsentScope) + zigzag(1) + zigzag(-1) + b"\x00\x00\x00",
            Malformed,
        ),
        HostileInput(
            "forged event type",
            valid.replace(b"ReferralSubmission", b"ReferralSubmissioN", 1),
            SchemaMismatch,
        ),
    ]
