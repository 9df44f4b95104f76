"""The access audit hash chain (pure): build the next ``AccessRecorded`` and verify a run of records.

Each record carries ``sequence`` (from 0, no gaps), ``prev_hash`` (the previous record's ``hash``; 64 zeros
for the first) and ``hash`` = hex SHA-256 of the record's canonical serialisation without ``hash``:

- the record as JSON (every field but ``hash``, the envelope included, ``prev_hash`` included);
- keys sorted, separators ``,`` and ``:``, UTF-8, no ASCII escaping;
- timestamps as UTC ISO 8601 with microseconds and ``Z`` (``2026-03-10T12:00:00.000000Z``), UUIDs in their
  canonical lower-case form, arrays in record order, absent optionals as ``null``.

A timestamp is normalised to UTC before hashing, so a record read back from Avro (``timestamp-micros``
decodes to UTC) hashes exactly as it was written. Changing any field, the sequence or the link changes the
hash; removing, inserting or moving a record breaks the sequence and the links.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from joinedup.contract.envelope import JOINEDUP_SOURCE, envelope_for, event_id_for
from joinedup.contract.models.audit import AccessRecorded, DisclosedItem
from joinedup.contract.topics import AUDIT_ACCESS

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first record of the chain."""

Outcome = Literal["disclosed", "withheld", "not-found", "denied"]


class AccessDraft(BaseModel):
    """What a request tells the audit log: everything of an ``AccessRecorded`` but its place in the chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(min_length=1)
    at: datetime
    user_id: str
    agency: str
    role: str
    purpose: str
    request: str
    person_id: str | None = None
    outcome: Outcome
    disclosed: tuple[DisclosedItem, ...] = ()
    withheld_count: int = Field(default=0, ge=0)
    break_glass: bool = False
    break_glass_justification: str | None = None


@dataclass(frozen=True)
class ChainTail:
    """Where the chain ends: the last record's sequence and hash. The next record gets ``sequence + 1``."""

    sequence: int
    hash: str

    @classmethod
    def of(cls, record: AccessRecorded) -> ChainTail:
        return cls(sequence=record.sequence, hash=record.hash)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC)


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    return value


def canonical_bytes(record: AccessRecorded) -> bytes:
    """The bytes the hash is taken over: the record without ``hash``, as canonical JSON."""
    data = record.model_dump(mode="python", exclude={"hash"})
    return json.dumps(
        _canonical_value(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def record_hash(record: AccessRecorded) -> str:
    """The hash ``record`` should carry (whatever its ``hash`` field says)."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


def audit_event_id(sequence: int) -> uuid.UUID:
    """The deterministic event id of the record at ``sequence`` (its coordinate in the chain)."""
    return event_id_for(AUDIT_ACCESS, sequence)


def next_record(tail: ChainTail | None, draft: AccessDraft) -> AccessRecorded:
    """The record that appends ``draft`` after ``tail`` (``None``: the chain is empty)."""
    sequence = 0 if tail is None else tail.sequence + 1
    prev_hash = GENESIS_HASH if tail is None else tail.hash
    at = _utc(draft.at)
    unhashed = AccessRecorded(
        envelope=envelope_for(
            AccessRecorded,
            event_id=audit_event_id(sequence),
            occurred_at=at,
            recorded_at=at,
            source_agency=JOINEDUP_SOURCE,
            correlation_id=draft.request_id,
        ),
        sequence=sequence,
        user_id=draft.user_id,
        agency=draft.agency,
        role=draft.role,
        purpose=draft.purpose,
        request=draft.request,
        person_id=draft.person_id,
        outcome=draft.outcome,
        disclosed=draft.disclosed,
        withheld_count=draft.withheld_count,
        break_glass=draft.break_glass,
        break_glass_justification=draft.break_glass_justification,
        prev_hash=prev_hash,
        hash="",
    )
    return unhashed.model_copy(update={"hash": record_hash(unhashed)})


def chain(tail: ChainTail | None, drafts: Iterable[AccessDraft]) -> list[AccessRecorded]:
    """Append every draft in order after ``tail``."""
    records: list[AccessRecorded] = []
    for draft in drafts:
        record = next_record(tail, draft)
        records.append(record)
        tail = ChainTail.of(record)
    return records


ProblemKind = Literal["edit", "gap", "reorder", "duplicate", "broken-link"]


@dataclass(frozen=True)
class ChainProblem:
    """Something wrong at ``position`` (index in the run verified) / ``sequence`` (what the record says)."""

    kind: ProblemKind
    position: int
    sequence: int
    detail: str

    def describe(self) -> str:
        return f"{self.kind} at position {self.position} (sequence {self.sequence}): {self.detail}"


def verify(records: Sequence[AccessRecorded], start: ChainTail | None = None) -> list[ChainProblem]:
    """Every problem in ``records``, which should continue the chain after ``start`` (``None``: from its
    first record). An empty list means the run is intact.

    - ``edit``: a record's content does not match its own hash;
    - ``gap``: a sequence number is missing (and appears nowhere in the run);
    - ``reorder``: a record is out of place (the sequence expected here appears elsewhere, or it goes back);
    - ``duplicate``: a sequence number appears again;
    - ``broken-link``: ``prev_hash`` is not the previous record's hash (e.g. an edit whose hash was
      recomputed, or a record inserted).
    """
    problems: list[ChainProblem] = []
    present = {record.sequence for record in records}
    seen: set[int] = set()
    expected = 0 if start is None else start.sequence + 1
    expected_prev = GENESIS_HASH if start is None else start.hash
    for position, record in enumerate(records):
        sequence = record.sequence
        if record_hash(record) != record.hash:
            problems.append(ChainProblem("edit", position, sequence, "the content does not match its hash"))
        if sequence in seen:
            problems.append(ChainProblem("duplicate", position, sequence, "this sequence appeared before"))
        elif sequence < expected:
            problems.append(ChainProblem("reorder", position, sequence, f"expected sequence {expected}"))
        elif sequence > expected:
            moved = any(s in present for s in range(expected, sequence))
            kind: ProblemKind = "reorder" if moved else "gap"
            missing = f"{expected}..{sequence - 1}" if sequence - 1 > expected else str(expected)
            detail = f"expected sequence {expected}" if moved else f"sequence {missing} missing"
            problems.append(ChainProblem(kind, position, sequence, detail))
        if record.prev_hash != expected_prev:
            problems.append(
                ChainProblem("broken-link", position, sequence, "prev_hash is not the previous record's hash")
            )
        seen.add(sequence)
        expected = sequence + 1
        expected_prev = record.hash
    return problems
