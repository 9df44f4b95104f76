"""Receipts sent back to agencies on ``joinedup.receipts.<agency>``."""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from joinedup.contract.models.event import Event


class SubmissionAccepted(Event):
    """Receipt sent back to an agency: its submission was accepted and produced these canonical events."""

    avro_name: ClassVar[str] = "joinedup.receipts.SubmissionAccepted"
    submission_type: str
    submission_ref: str
    event_ids: tuple[UUID, ...]


class SubmissionRejected(Event):
    """Receipt sent back to an agency: its submission was rejected, with the reason."""

    avro_name: ClassVar[str] = "joinedup.receipts.SubmissionRejected"
    submission_type: str | None = None
    submission_ref: str | None = None
    reason_code: str
    field: str | None = None
    message: str
