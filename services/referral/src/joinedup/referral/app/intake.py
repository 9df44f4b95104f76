"""Turn a decoded intake record into a submission model, or a named rejection that names the field.

The contract's decoder has already checked the bytes against the writer schema (undecodable bytes go to the
dead-letter topic and never reach here); this maps the decoded record onto the service's own input models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from joinedup.referral.domain.envelope import Envelope
from joinedup.referral.domain.errors import InvalidValue, MissingField, Rejection
from joinedup.referral.domain.submissions import SUBMISSION_TYPES, Submission

_REF_FIELDS = ("referral_ref", "assessment_ref", "contact_ref")


def submission_model(record_name: str) -> type[Submission] | None:
    """The model for an intake record (full or short Avro name), or None if this service does not own it
    (a ConsentStatement, say)."""
    return SUBMISSION_TYPES.get(record_name.rsplit(".", 1)[-1])


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("subject", "address_lines", 0)`` -> ``subject.address_lines[0]``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _explain(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "one of the allowed values")
        return f"must be {expected}"
    if kind == "timezone_aware":
        return "needs a time zone (Avro timestamp-micros is UTC)"
    return f"is not valid ({kind})"


def schema_rejection(exc: ValidationError) -> Rejection:
    """The first validation error as a rejection. The message names the field and the kind of error, never
    the value (which may be personal data)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    field = field_path(tuple(error["loc"]))
    if error["type"] == "missing":
        return MissingField(field, f"{field} is required")
    return InvalidValue(field, f"{field} {_explain(error)}")


def parse_submission(model: type[Submission], record: Mapping[str, Any] | object) -> Submission:
    """Validate a decoded record (a dict, or any object with the same attributes) into ``model``."""
    try:
        if isinstance(record, Mapping):
            return model.model_validate(record)
        return model.model_validate(record, from_attributes=True)
    except ValidationError as exc:
        raise schema_rejection(exc) from None


def salvage_envelope(record: Mapping[str, Any] | object) -> Envelope | None:
    """The envelope of a record that failed validation, if it is itself valid (for the rejection's ids)."""
    raw = record.get("envelope") if isinstance(record, Mapping) else getattr(record, "envelope", None)
    try:
        if isinstance(raw, Mapping):
            return Envelope.model_validate(raw)
        return Envelope.model_validate(raw, from_attributes=True)
    except ValidationError:
        return None


def salvage_ref(record: Mapping[str, Any] | object) -> str | None:
    """The agency reference of a record that failed validation, if it has a usable one."""
    for name in _REF_FIELDS:
        value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
        if isinstance(value, str) and value:
            return value
    return None
