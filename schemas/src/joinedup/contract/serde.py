"""Avro single-object encoding with fastavro, decoded defensively.

Wire format of every joinedup message (key excluded)::

    0xC3 0x01 | 8-byte CRC-64-AVRO fingerprint of the writer schema (little-endian) | Avro binary body

Encoding always uses a record's current schema. Decoding looks the writer schema up by fingerprint among every
version kept in the repository and reads with the current schema (Avro schema resolution fills defaults).
Before fastavro sees the body, :mod:`joinedup.contract.prescan` checks its structure and sizes, so the decoder
rejects trailing bytes, truncation, oversized values and runaway counts with a typed
:class:`~joinedup.contract.errors.DecodeError` and never hangs. After decoding it checks the envelope
(``event_type`` and ``schema_fingerprint`` must match the header) and validates the model.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from fastavro import schemaless_reader, schemaless_writer
from pydantic import ValidationError

from joinedup.contract.errors import (
    DecodeError,
    EncodeError,
    LimitExceeded,
    Malformed,
    SchemaMismatch,
    TrailingBytes,
    Truncated,
    UnknownFingerprint,
    UnknownRecord,
    WrongMagic,
)
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.prescan import Limits, Scan, compile_scanner
from joinedup.contract.schemas import ContractRegistry, RecordType, SchemaVersion, registry

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10

R = TypeVar("R", bound=AvroRecord)


@dataclass(frozen=True)
class _Writer:
    """Everything needed to decode bytes written with one schema version."""

    version: SchemaVersion
    record: RecordType
    scan: Scan
    reader: Any
    """The current schema, parsed, when it differs from the writer's; None when they are the same."""


@dataclass(frozen=True)
class _Encoder:
    record: RecordType
    header: bytes
    event_type: str
    fingerprint_hex: str


class Codec:
    """Encodes models (or plain dicts) to single-object encoded bytes and decodes them back, defensively."""

    def __init__(self, contract: ContractRegistry | None = None, limits: Limits | None = None) -> None:
        self.contract = contract or registry()
        self.limits = limits or Limits()
        self._writers: dict[bytes, _Writer] = {}
        self._encoders: dict[str, _Encoder] = {}
        for record in self.contract.records.values():
            current = record.current
            self._encoders[record.full_name] = _Encoder(
                record=record,
                header=MAGIC + current.fingerprint,
                event_type=record.short_name,
                fingerprint_hex=current.fingerprint_hex,
            )
            for version in record.versions:
                self._writers.setdefault(
                    version.fingerprint,
                    _Writer(
                        version=version,
                        record=record,
                        scan=compile_scanner(version.schema, self.limits),
                        reader=None if version is current else current.parsed,
                    ),
                )

    # ------------------------------------------------------------------ encode
    def encode(self, record: AvroRecord) -> bytes:
        """Encode a model with its record's current schema; ``envelope.event_type`` and
        ``envelope.schema_fingerprint`` are set by the encoder."""
        return self.encode_dict(record.avro_name, record.model_dump())

    def encode_many(self, records: Iterable[AvroRecord]) -> list[bytes]:
        return [self.encode_dict(r.avro_name, r.model_dump()) for r in records]

    def encode_dict(self, full_name: str, data: Mapping[str, Any]) -> bytes:
        """Encode a plain dict (fastavro's datum form) as the current version of ``full_name``."""
        encoder = self._encoders.get(full_name)
        if encoder is None:
            raise UnknownRecord(full_name)
        envelope = data.get("envelope")
        if isinstance(envelope, Mapping):
            data = {
                **data,
                "envelope": {
                    **envelope,
                    "event_type": encoder.event_type,
                    "schema_fingerprint": encoder.fingerprint_hex,
                },
            }
        buffer = io.BytesIO()
        buffer.write(encoder.header)
        try:
            schemaless_writer(buffer, encoder.record.current.parsed, data, disable_tuple_notation=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise EncodeError(f"cannot encode {full_name}: {type(exc).__name__}") from exc
        return buffer.getvalue()

    # ------------------------------------------------------------------ decode
    def writer_of(self, payload: bytes) -> SchemaVersion:
        """Which schema version wrote these bytes (from the header alone)."""
        return self._writer(payload).version

    def decode_dict(self, payload: bytes) -> tuple[RecordType, dict[str, Any]]:
        """Decode to fastavro's dict form, read with the record's current schema."""
        writer = self._writer(payload)
        try:
            end = writer.scan(payload, HEADER_SIZE)
        except IndexError:
            raise Truncated(f"{writer.record.full_name}: the message ends inside a value") from None
        except RecursionError:
            raise LimitExceeded(f"{writer.record.full_name}: values nested too deeply") from None
        if end != len(payload):
            if end > len(payload):
                raise Truncated(f"{writer.record.full_name}: the message ends inside a value")
            raise TrailingBytes(
                f"{writer.record.full_name}: {len(payload) - end} bytes left after the record "
                f"(body is {end - HEADER_SIZE} bytes)"
            )
        body = io.BytesIO(payload)
        body.seek(HEADER_SIZE)
        try:
            data = schemaless_reader(body, writer.version.parsed, writer.reader)
        except Exception as exc:
            raise Malformed(
                f"{writer.record.full_name}: body does not decode ({type(exc).__name__})"
            ) from None
        if body.tell() != len(payload):
            raise TrailingBytes(f"{writer.record.full_name}: {len(payload) - body.tell()} bytes left")
        if not isinstance(data, dict):
            raise Malformed(f"{writer.record.full_name}: body is not a record")
        envelope = data.get("envelope")
        if isinstance(envelope, dict):
            if envelope.get("event_type") != writer.record.short_name:
                raise SchemaMismatch(
                    f"{writer.record.full_name}: envelope.event_type does not name the record in the header"
                )
            if envelope.get("schema_fingerprint") != writer.version.fingerprint_hex:
                raise SchemaMismatch(
                    f"{writer.record.full_name}: envelope.schema_fingerprint does not match the header"
                )
        return writer.record, data

    def decode(self, payload: bytes) -> AvroRecord:
        """Decode to the record's model (current version). Raises a :class:`DecodeError` subclass."""
        record, data = self.decode_dict(payload)
        if record.model is None:
            raise UnknownRecord(f"{record.full_name} has no model")
        return _validate(record.model, data)

    def decode_as(self, payload: bytes, model: type[R]) -> R:
        """Decode bytes that must hold a ``model``; anything else is a :class:`SchemaMismatch`."""
        record, data = self.decode_dict(payload)
        if record.full_name != model.avro_name:
            raise SchemaMismatch(f"expected {model.avro_name}, got {record.full_name}")
        return _validate(model, data)

    def decode_many(self, payloads: Sequence[bytes]) -> list[AvroRecord | DecodeError]:
        """Decode a batch; an undecodable message yields its :class:`DecodeError` in its place (never raises
        for bad input), so a consumer can dead-letter it and go on."""
        out: list[AvroRecord | DecodeError] = []
        for payload in payloads:
            try:
                out.append(self.decode(payload))
            except DecodeError as exc:
                out.append(exc)
        return out

    def _writer(self, payload: bytes) -> _Writer:
        size = len(payload)
        if size > self.limits.max_message_bytes:
            raise LimitExceeded(
                f"message of {size} bytes exceeds the limit of {self.limits.max_message_bytes}"
            )
        if payload[:2] != MAGIC[:size]:
            raise WrongMagic("message does not start with the Avro single-object marker C3 01")
        if size < HEADER_SIZE:
            raise Truncated(f"message of {size} bytes is shorter than the {HEADER_SIZE}-byte header")
        fingerprint = bytes(payload[2:HEADER_SIZE])
        writer = self._writers.get(fingerprint)
        if writer is None:
            raise UnknownFingerprint(f"no schema in the repository has fingerprint {fingerprint.hex()}")
        return writer


def _validate(model: type[R], data: dict[str, Any]) -> R:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Field locations and error types only: the input values may be personal data.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['type']}"
            for error in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise SchemaMismatch(f"{model.avro_name} does not satisfy its model ({problems})") from None


@cache
def default_codec() -> Codec:
    """The process-wide codec over the project's schemas with the default limits."""
    return Codec()


def encode(record: AvroRecord) -> bytes:
    return default_codec().encode(record)


def decode(payload: bytes) -> AvroRecord:
    return default_codec().decode(payload)


def encode_many(records: Iterable[AvroRecord]) -> list[bytes]:
    return default_codec().encode_many(records)


def decode_many(payloads: Sequence[bytes]) -> list[AvroRecord | DecodeError]:
    return default_codec().decode_many(payloads)
