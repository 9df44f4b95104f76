"""Repeat-assessment detection (pure): which assessments of one person repeat an earlier equivalent one.

A *trigger* is an assessment that was not cancelled, or an open (received or accepted) referral that requests
an assessment type. An *earlier* assessment is one that is scheduled, started or completed (an assessment
already booked by another agency is the repeat most worth preventing, so "in progress" includes scheduled),
that came first in (occurred_at, item id) order, and whose latest status change lies within its own type's
repeat window of the trigger's time (its result is still current for that long). Trigger and earlier are
equivalent when they have the same type or types of the same equivalence group (vocabulary
``assessment_types``); types the vocabulary does not know are never compared.

A referral and an assessment made under it share a *root* (the referral's item id): they are one piece of
work, so together they raise one alert per earlier assessment, never two, and are never each other's repeat.

One alert per (trigger root, earlier assessment) pair, with a UUIDv5 id of the pair: detection is idempotent
and the same pair found again (after a replay, a merge, a duplicate) changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from joinedup.contract.vocabularies import AssessmentTypes

ALERT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:joinedup:alert:repeat-assessment")
"""The UUIDv5 namespace of repeat-assessment alert ids (fixed forever)."""

ASSESSMENT = "assessment"
REFERRAL = "referral"
EARLIER_STATUSES = frozenset({"scheduled", "started", "completed"})
TRIGGER_ASSESSMENT_STATUSES = frozenset({"scheduled", "started", "completed"})
TRIGGER_REFERRAL_STATUSES = frozenset({"received", "accepted"})


@dataclass(frozen=True, slots=True)
class Occurrence:
    """An assessment, or a referral's request for one, as the detector sees it."""

    item_id: str
    root: str
    kind: str
    agency: str
    """The agency that holds it (the assessing agency; the referring agency for a referral)."""
    ref: str
    assessment_type: str
    status: str
    occurred_at: datetime
    """When it first happened (scheduled, referred)."""
    last_activity_at: datetime
    """When its status last changed (completed, started...)."""


@dataclass(frozen=True, slots=True)
class RepeatFinding:
    alert_id: str
    trigger: Occurrence
    earlier: Occurrence
    equivalence_group: str


def alert_id_for(trigger_root: str, earlier_item_id: str) -> str:
    """The deterministic id of the alert about this pair."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{trigger_root}|{earlier_item_id}"))


def is_trigger(occurrence: Occurrence) -> bool:
    if occurrence.kind == ASSESSMENT:
        return occurrence.status in TRIGGER_ASSESSMENT_STATUSES
    return occurrence.kind == REFERRAL and occurrence.status in TRIGGER_REFERRAL_STATUSES


def can_be_earlier(occurrence: Occurrence) -> bool:
    return occurrence.kind == ASSESSMENT and occurrence.status in EARLIER_STATUSES


def _order(occurrence: Occurrence) -> tuple[datetime, str]:
    return (occurrence.occurred_at, occurrence.item_id)


def repeats(trigger: Occurrence, earlier: Occurrence, types: AssessmentTypes) -> str | None:
    """The equivalence group if ``trigger`` repeats ``earlier`` (see the module doc), else None."""
    if trigger.root == earlier.root or _order(earlier) >= _order(trigger):
        return None
    trigger_type, earlier_type = types.get(trigger.assessment_type), types.get(earlier.assessment_type)
    if trigger_type is None or earlier_type is None:
        return None
    if not types.equivalent(trigger_type.code, earlier_type.code):
        return None
    window = timedelta(days=earlier_type.repeat_window_days)
    if trigger.occurred_at - earlier.last_activity_at > window:
        return None
    return trigger_type.group


def find_repeats(
    occurrences: Sequence[Occurrence],
    types: AssessmentTypes,
    already_alerted: Callable[[str, str], bool],
) -> list[RepeatFinding]:
    """Every (trigger, earlier) pair among one person's occurrences not alerted yet, in a fixed order
    (triggers by time then id, then earlier ones by time then id); one per (trigger root, earlier)."""
    ordered = sorted(occurrences, key=_order)
    earlier_ones = [o for o in ordered if can_be_earlier(o)]
    found: list[RepeatFinding] = []
    seen: set[tuple[str, str]] = set()
    for trigger in ordered:
        if not is_trigger(trigger):
            continue
        for earlier in earlier_ones:
            group = repeats(trigger, earlier, types)
            if group is None:
                continue
            pair = (trigger.root, earlier.item_id)
            if pair in seen or already_alerted(*pair):
                continue
            seen.add(pair)
            found.append(RepeatFinding(alert_id_for(*pair), trigger, earlier, group))
    return found
