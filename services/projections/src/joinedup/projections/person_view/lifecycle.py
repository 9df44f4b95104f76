"""Item kinds and the statuses each goes through, in lifecycle order.

A status change is stored with the time it happened; an item's current status is the last of its history
sorted by (time, lifecycle rank, event id), so two events at the same instant (or arriving out of order)
still give one answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

REFERRAL = "referral"
ASSESSMENT = "assessment"
CONTACT = "contact"

RECEIVED = "received"
ACCEPTED = "accepted"
DECLINED = "declined"
WITHDRAWN = "withdrawn"
CLOSED = "closed"

SCHEDULED = "scheduled"
STARTED = "started"
COMPLETED = "completed"
CANCELLED = "cancelled"

RECORDED = "recorded"

STATUS_RANK: dict[str, int] = {
    RECEIVED: 0,
    ACCEPTED: 1,
    DECLINED: 2,
    WITHDRAWN: 2,
    CLOSED: 3,
    SCHEDULED: 0,
    STARTED: 1,
    COMPLETED: 2,
    CANCELLED: 2,
    RECORDED: 0,
}


class _Change(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def event_id(self) -> str: ...


def change_order(change: _Change) -> tuple[datetime, int, str]:
    """The sort key of a status change in an item's history: (time, lifecycle rank, event id)."""
    return (change.at, STATUS_RANK.get(change.status, 0), change.event_id)


def item_id_for(kind: str, agency: str, ref: str) -> str:
    """The stable id of an item: ``<kind>:<agency>/<ref>``."""
    return f"{kind}:{agency}/{ref}"


def ref_of(agency: str, ref: str) -> str:
    """How references are written in a view: ``<agency>/<ref>`` (as ContactRecorded.related_refs are)."""
    return f"{agency}/{ref}"
