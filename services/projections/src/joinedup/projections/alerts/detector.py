"""Repeat-assessment detection (pure): which assessments of one person repeat an earlier equivalent one.

Every judgement is made *as of the trigger's own time* from the items' status histories, never from the
order in which their events (or the identity events placing their records) arrived, so the alerts of a
person are a function of the person's items alone:

- A *trigger* is an assessment that was ever scheduled, started or completed, or a referral requesting an
  assessment type that was ever received or accepted. A referral that was received and is already closed,
  declined or withdrawn when it first becomes detectable (its record placed in a person late, a merge
  after it closed) still triggers: the caseworker and the DPO should know that two agencies set out to
  assess the same need. (The view shows an alert only while its trigger is not cancelled, declined or
  withdrawn: :mod:`joinedup.projections.person_view.assembly`.)
- An *earlier* assessment is one that came first in (occurred_at, item id) order and that, as of the
  trigger's time (its status changes up to that instant), was scheduled, started or completed (an
  assessment already booked by another agency is the repeat most worth preventing, so "in progress"
  includes scheduled), and whose latest status change up to that instant lies within its own type's repeat
  window of the trigger's time (its result is still current for that long). Its changes after the trigger's
  time play no part.
- Trigger and earlier are equivalent when they have the same type or types of the same equivalence group
  (vocabulary ``assessment_types``); types the vocabulary does not know are never compared.

A referral and an assessment made under it share a *root* (the referral's item id): they are one piece of
work, so together they raise one alert per earlier assessment, never two, and are never each other's repeat.
The alert names the root's first trigger (by (occurred_at, item id)) that repeats the earlier assessment,
and is dated at that trigger's time (``detected_at``: when the repeat happened, not when joinedup noticed
it, which is the alert event's ``recorded_at``); the statuses it reports are those as of that time.

One alert per (trigger root, earlier assessment) pair, with a UUIDv5 id of the pair: detection is idempotent
and the same pair found again (after a replay, a merge, a duplicate) is not raised again. When a trigger of
the root that comes first becomes known later (a referral arriving after the assessment made under it), the
stored alert is re-pointed at it and re-dated, without a second alert event.

A published alert is never withdrawn: when a change reported late but dated before the trigger (a
backdated cancellation of the earlier assessment, an item's first report arriving after its later ones)
or a split means the pair no longer repeats, the person view marks its stored alert as no longer holding
and stops showing it, so the view stays a function of the items; the alert event stays on the topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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
class StatusAt:
    """One status change of an occurrence: its status from ``at`` on."""

    status: str
    at: datetime


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
    occurred_at: datetime
    """When it first happened (scheduled, referred)."""
    history: tuple[StatusAt, ...]
    """Its status changes in lifecycle order (by time, then lifecycle rank, then event id: the caller
    sorts them); never empty."""

    def as_of(self, moment: datetime) -> StatusAt | None:
        """Its last status change at or before ``moment`` (None if it had none by then)."""
        found: StatusAt | None = None
        for change in self.history:
            if change.at > moment:
                break
            found = change
        return found


@dataclass(frozen=True, slots=True)
class RepeatFinding:
    trigger: Occurrence
    earlier: Occurrence
    equivalence_group: str
    trigger_status: str
    """The trigger's status as of its own time."""
    earlier_status: str
    """The earlier assessment's status as of the trigger's time."""

    @property
    def pair(self) -> tuple[str, str]:
        """(trigger root, earlier item id): what the alert is about."""
        return (self.trigger.root, self.earlier.item_id)

    @property
    def alert_id(self) -> str:
        return alert_id_for(*self.pair)

    @property
    def detected_at(self) -> datetime:
        """When the repeat happened: the trigger's time."""
        return self.trigger.occurred_at


def alert_id_for(trigger_root: str, earlier_item_id: str) -> str:
    """The deterministic id of the alert about this pair."""
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{trigger_root}|{earlier_item_id}"))


def is_trigger(occurrence: Occurrence) -> bool:
    """Whether it ever had a trigger status (whatever its status is now)."""
    if occurrence.kind == ASSESSMENT:
        wanted = TRIGGER_ASSESSMENT_STATUSES
    elif occurrence.kind == REFERRAL:
        wanted = TRIGGER_REFERRAL_STATUSES
    else:
        return False
    return any(change.status in wanted for change in occurrence.history)


def can_be_earlier(occurrence: Occurrence) -> bool:
    """Whether it could be anyone's earlier assessment (an assessment: its status at a given time decides)."""
    return occurrence.kind == ASSESSMENT


def _order(occurrence: Occurrence) -> tuple[datetime, str]:
    return (occurrence.occurred_at, occurrence.item_id)


def _repeat(trigger: Occurrence, earlier: Occurrence, types: AssessmentTypes) -> tuple[str, str] | None:
    """(equivalence group, the earlier one's status as of the trigger's time) if ``trigger`` repeats
    ``earlier`` (see the module doc), else None. Whether ``trigger`` is a trigger at all is
    :func:`is_trigger`'s question, and whether ``earlier`` came first :func:`find_repeats`' (its loop stops
    there)."""
    if trigger.root == earlier.root:
        return None
    trigger_type, earlier_type = types.get(trigger.assessment_type), types.get(earlier.assessment_type)
    if trigger_type is None or earlier_type is None:
        return None
    if not types.equivalent(trigger_type.code, earlier_type.code):
        return None
    then = earlier.as_of(trigger.occurred_at)
    if then is None or then.status not in EARLIER_STATUSES:
        return None
    window = timedelta(days=earlier_type.repeat_window_days)
    if trigger.occurred_at - then.at > window:
        return None
    return trigger_type.group, then.status


def _trigger_status(trigger: Occurrence) -> str:
    then = trigger.as_of(trigger.occurred_at)
    return then.status if then is not None else trigger.history[0].status


def find_repeats(occurrences: Sequence[Occurrence], types: AssessmentTypes) -> list[RepeatFinding]:
    """Every (trigger root, earlier) pair among one person's occurrences, each with the root's first trigger
    that repeats the earlier one, in a fixed order (triggers by time then id, then earlier ones by time then
    id). The caller keeps what is new (one alert per pair)."""
    ordered = sorted(occurrences, key=_order)
    earlier_ones = [o for o in ordered if can_be_earlier(o)]
    found: list[RepeatFinding] = []
    seen: set[tuple[str, str]] = set()
    for trigger in ordered:
        if not is_trigger(trigger):
            continue
        trigger_order = _order(trigger)
        for earlier in earlier_ones:
            if _order(earlier) >= trigger_order:
                break  # sorted: none of the rest came first either
            pair = (trigger.root, earlier.item_id)
            if pair in seen:
                continue
            judged = _repeat(trigger, earlier, types)
            if judged is None:
                continue
            seen.add(pair)
            group, earlier_status = judged
            found.append(RepeatFinding(trigger, earlier, group, _trigger_status(trigger), earlier_status))
    return found
