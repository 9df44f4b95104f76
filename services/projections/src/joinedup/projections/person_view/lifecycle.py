"""Item kinds and the statuses each goes through, in lifecycle order.

A status change is stored with the time it happened; an item's current status is the last of its history
sorted by (time, lifecycle rank, event id), so two events at the same instant (or arriving out of order)
still give one answer.
"""

from __future__ import annotations

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


def item_id_for(kind: str, agency: str, ref: str) -> str:
    """The stable id of an item: ``<kind>:<agency>/<ref>``."""
    return f"{kind}:{agency}/{ref}"


def ref_of(agency: str, ref: str) -> str:
    """How references are written in a view: ``<agency>/<ref>`` (as ContactRecorded.related_refs are)."""
    return f"{agency}/{ref}"
