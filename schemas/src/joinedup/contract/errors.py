"""Named errors of the contract: schema loading, encoding and (defensive) decoding.

Messages never carry personal data: they name records, fields, positions, sizes and fingerprints, never values
from a message, so they are safe to log and to put in a dead letter's ``reason``.
"""

from __future__ import annotations


class ContractError(Exception):
    """Base of every error the contract raises."""


class SchemaError(ContractError):
    """A schema file is missing, unreadable, badly named or refers to an unknown type."""


class UnknownRecord(ContractError, KeyError):
    """No record of that full name (or no model for it) in the registry."""


class EncodeError(ContractError, ValueError):
    """A record could not be encoded with its schema."""


class DecodeError(ContractError, ValueError):
    """Bytes that are not a valid joinedup message. ``reason`` is safe to log and to dead-letter."""

    @property
    def reason(self) -> str:
        return str(self)


class WrongMagic(DecodeError):
    """The message does not start with the single-object encoding marker 0xC3 0x01."""


class UnknownFingerprint(DecodeError):
    """The writer schema's fingerprint matches no version of any schema in the repository."""


class Truncated(DecodeError):
    """The message ends before the writer schema says it should."""


class TrailingBytes(DecodeError):
    """Bytes are left over after the record the writer schema describes."""


class LimitExceeded(DecodeError):
    """The message, a string, a bytes value or a collection is larger than the configured limits."""


class Malformed(DecodeError):
    """The body does not follow the writer schema (bad varint, union branch, boolean or UTF-8)."""


class SchemaMismatch(DecodeError):
    """The body decoded but is not the record it claims to be (envelope or model check failed)."""
