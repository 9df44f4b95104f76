"""The envelope every submission and every event carries (mirrors the contract's joinedup.common.Envelope).

All timestamps are normalised to UTC on the way in, so two equal instants always serialise alike and the
content hash of a submission does not depend on the offset its writer used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware instant, held in UTC (Avro ``timestamp-micros``)."""


class RecordRef(BaseModel):
    """A source record: the agency that holds it and that agency's own id for the person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str
    local_person_id: str

    def key(self) -> str:
        """The canonical topic key, ``<agency>/<local_person_id>``."""
        return f"{self.agency}/{self.local_person_id}"


class Envelope(BaseModel):
    """Who said what, when, and why. ``schema_fingerprint`` is stamped by the encoder from the writer schema;
    events built here leave it empty for the adapter's mapping to fill."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str
    event_type: str
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    source_agency: str
    correlation_id: str
    causation_id: str | None = None
    subject: RecordRef | None = None
    schema_fingerprint: str = ""
