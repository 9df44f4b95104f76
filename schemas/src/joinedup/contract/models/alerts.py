"""Alerts on ``joinedup.alerts``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event


class AssessmentOccurrence(AvroRecord):
    """An assessment (or a referral's request for one) as seen by the repeat detector."""

    avro_name: ClassVar[str] = "joinedup.alerts.AssessmentOccurrence"
    kind: str
    agency: str
    ref: str
    assessment_type: str
    status: str
    occurred_at: AwareDatetime


class RepeatAssessmentDetected(Event):
    """A person is about to be assessed again: an equivalent assessment exists within the repeat window."""

    avro_name: ClassVar[str] = "joinedup.alerts.RepeatAssessmentDetected"
    alert_id: str
    person_id: str
    to_agency: str
    trigger: AssessmentOccurrence
    earlier: tuple[AssessmentOccurrence, ...]
    equivalence_group: str
