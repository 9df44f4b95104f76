"""Deterministic event ids: a UUIDv5 of the event's source coordinates, so a re-emitted event keeps its id."""

from __future__ import annotations

import json
import uuid
from typing import Literal

CONSENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:joinedup:consent")


def _uuid_of(*parts: str | int) -> str:
    name = json.dumps(list(parts), separators=(",", ":"), ensure_ascii=True)
    return str(uuid.uuid5(CONSENT_NAMESPACE, name))


def statement_event_id(agency: str, statement_ref: str, version: int, kind: str) -> str:
    """The id of the canonical event for version ``version`` of an agency's consent statement."""
    return _uuid_of("statement", agency, statement_ref, version, kind)


def agreement_event_id(agreement_id: str, version: int, action: Literal["registered", "ended"]) -> str:
    """The id of the canonical event for version ``version`` of a sharing agreement."""
    return _uuid_of("agreement", agreement_id, version, action)
