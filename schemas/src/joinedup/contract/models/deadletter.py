"""Messages a consumer could not process, on ``joinedup.deadletter``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime

from joinedup.contract.models.base import Int32, Int64
from joinedup.contract.models.event import Event


class DeadLetter(Event):
    """A message a consumer could not process, kept with the reason (nothing is dropped silently)."""

    avro_name: ClassVar[str] = "joinedup.deadletter.DeadLetter"
    source_topic: str
    source_partition: Int32
    source_offset: Int64
    source_timestamp: AwareDatetime | None = None
    key: bytes | None = None
    payload: bytes
    error_class: str
    reason: str
    consumer_group: str
    failed_at: AwareDatetime
