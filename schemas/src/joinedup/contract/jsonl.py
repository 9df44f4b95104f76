"""The JSON-lines intake format: one submission per line, as an agency system or a person writes it by hand.

Each line is a JSON object with the fields of one intake record as in its Avro schema, plus ``type`` naming
the record (short name ``ReferralSubmission`` or full name ``joinedup.intake.ReferralSubmission``). Dates are
ISO 8601 (``1994-07-21``), timestamps ISO 8601 with an offset (``2026-03-02T09:30:15Z``). No envelope is
needed: the publisher fills it (see :mod:`joinedup.contract.sdk`). An ``envelope`` object, if present, may set
``correlation_id`` and ``causation_id``, and its ``source_agency``, if set, must be the publishing agency;
everything else in it (ids, times, fingerprint) is ignored, because the publisher always derives those.

Parsing here is only about the *shape of the line*: JSON, ``type`` and ``envelope``. The fields themselves are
validated by the publisher against the model and the vocabularies, which names the line and field of every
problem. Nothing here reads values into messages, so errors are safe to log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args
from uuid import UUID

from joinedup.contract.errors import ContractError
from joinedup.contract.keys import IntakeRecord

SUBMISSION_MODELS: tuple[type[IntakeRecord], ...] = get_args(IntakeRecord)
"""Every record an agency may publish on its intake topic (the members of ``IntakeRecord``)."""

_BY_NAME: dict[str, type[IntakeRecord]] = {
    name: model for model in SUBMISSION_MODELS for name in (model.avro_name, model.short_name())
}

TYPE_FIELD = "type"
ENVELOPE_FIELD = "envelope"
_ENVELOPE_KEPT = ("correlation_id", "causation_id")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission: a dotted field path (empty for the whole line) and a message that
    names fields and codes, never values."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


class InvalidSubmission(ContractError, ValueError):
    """A submission that must not be sent. ``problems`` lists every problem found, each with its field."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "invalid submission")


@dataclass(frozen=True)
class Draft:
    """A submission before the publisher fills its envelope: the record's model and its fields."""

    model: type[IntakeRecord]
    fields: Mapping[str, Any]
    correlation_id: str | None = None
    causation_id: UUID | None = None
    source_agency: str | None = None
    """The ``envelope.source_agency`` the input claimed, if any (the publisher checks it is its agency)."""
    line: int | None = None


@dataclass(frozen=True)
class ParsedLines:
    """A whole JSON-lines input: the drafts of the good lines and the problems of the bad ones."""

    drafts: tuple[Draft, ...]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems


def submission_model(name: str) -> type[IntakeRecord]:
    """The intake model named ``name`` (short or full name); :class:`InvalidSubmission` if there is none."""
    found = _BY_NAME.get(name)
    if found is None:
        known = ", ".join(m.short_name() for m in SUBMISSION_MODELS)
        raise InvalidSubmission([Problem(TYPE_FIELD, f"must name an intake record ({known})")])
    return found


def draft_from_dict(data: Mapping[str, Any], *, line: int | None = None) -> Draft:
    """Read ``type`` and ``envelope`` off one submission object; the other keys are the record's fields."""
    name = data.get(TYPE_FIELD)
    if not isinstance(name, str):
        raise InvalidSubmission([Problem(TYPE_FIELD, "is required: the record's name", line)])
    try:
        model = submission_model(name)
    except InvalidSubmission as exc:
        raise InvalidSubmission(Problem(p.field, p.message, line) for p in exc.problems) from None
    fields = {k: v for k, v in data.items() if k not in (TYPE_FIELD, ENVELOPE_FIELD)}
    envelope = data.get(ENVELOPE_FIELD)
    if envelope is None:
        return Draft(model, fields, line=line)
    if not isinstance(envelope, Mapping):
        raise InvalidSubmission([Problem(ENVELOPE_FIELD, "must be an object (or left out)", line)])
    problems: list[Problem] = []
    kept: dict[str, Any] = {}
    for key in _ENVELOPE_KEPT:
        value = envelope.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(Problem(f"envelope.{key}", "must be a string", line))
        kept[key] = value
    causation: UUID | None = None
    if isinstance(kept["causation_id"], str):
        try:
            causation = UUID(kept["causation_id"])
        except ValueError:
            problems.append(Problem("envelope.causation_id", "must be a UUID", line))
    source = envelope.get("source_agency")
    if source is not None and not isinstance(source, str):
        problems.append(Problem("envelope.source_agency", "must be a string", line))
    if problems:
        raise InvalidSubmission(problems)
    return Draft(
        model,
        fields,
        correlation_id=kept["correlation_id"],
        causation_id=causation,
        source_agency=source,
        line=line,
    )


def parse_line(text: str, line: int | None = None) -> Draft:
    """One line of JSON to a :class:`Draft`; :class:`InvalidSubmission` naming the line if it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the decoder's message quotes no input, but keep to what is certainly safe.
        raise InvalidSubmission(
            [Problem("", f"not valid JSON (column {exc.colno}: {exc.msg})", line)]
        ) from None
    if not isinstance(data, dict):
        raise InvalidSubmission([Problem("", "must be a JSON object", line)])
    return draft_from_dict(data, line=line)


def parse_lines(lines: Iterable[str]) -> ParsedLines:
    """Every line of a JSON-lines input (blank lines are skipped), numbered from 1. Never raises for bad
    lines: each becomes a problem, so a caller can report them all and send nothing."""
    drafts: list[Draft] = []
    problems: list[Problem] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            drafts.append(parse_line(text, number))
        except InvalidSubmission as exc:
            problems.extend(exc.problems)
    return ParsedLines(tuple(drafts), tuple(problems))
