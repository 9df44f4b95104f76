"""Receipts written back to the submitting agency on ``joinedup.receipts.<agency>`` (names fixed by contract).

A receipt's ``envelope.source_agency`` is the agency whose submission it answers, its causation_id is the
submission's event_id and its correlation_id the submission's correlation_id.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from joinedup.referral.domain.envelope import Envelope


class SubmissionAccepted(BaseModel):
    """The submission was accepted; these canonical events record it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    envelope: Envelope
    submission_type: str
    submission_ref: str
    event_ids: tuple[str, ...]


class SubmissionRejected(BaseModel):
    """The submission was rejected and changed nothing. ``message`` never contains personal data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    envelope: Envelope
    submission_type: str
    submission_ref: str | None
    reason_code: str
    field: str | None
    message: str


Receipt = SubmissionAccepted | SubmissionRejected
