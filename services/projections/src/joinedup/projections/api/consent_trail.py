"""The consent trail of a person's records, from the consent service (``GET /v1/subjects/trail``), for DPOs.

The shape is the consent service's ``TrailView``; entries are kept as the service sends them (their ``event``
differs by kind), so this API passes the trail on without re-modelling every statement and agreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from joinedup.projections.api.decisions import SubjectRecord


class TrailEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    at: AwareDatetime
    action: str
    ref: str
    version: int
    event: dict[str, Any]


class ConsentTrail(BaseModel):
    """Every consent statement version on the records and every agreement version covering their agencies,
    in the order they took effect."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    subject_records: list[SubjectRecord]
    entries: list[TrailEntry]


class ConsentTrailUnavailableError(RuntimeError):
    """The consent service did not return a trail."""


class ConsentTrailPort(Protocol):
    def trail(self, records: Sequence[SubjectRecord]) -> ConsentTrail:
        """The trail of ``records``, or raise :class:`ConsentTrailUnavailableError`."""
        ...


class HttpConsentTrailPort:
    """``GET /v1/subjects/trail?record=<agency>/<local id>&...`` with a token the consent service lets read
    trails (its ``dpo`` or ``admin`` role)."""

    def __init__(
        self, base_url: str, token: str, *, timeout_s: float = 5.0, client: httpx.Client | None = None
    ) -> None:
        self._client = client or httpx.Client(base_url=base_url, timeout=timeout_s)
        self._headers = {"Authorization": f"Bearer {token}"}

    def trail(self, records: Sequence[SubjectRecord]) -> ConsentTrail:
        params = httpx.QueryParams([("record", f"{r.agency}/{r.local_person_id}") for r in records])
        try:
            response = self._client.get("/v1/subjects/trail", params=params, headers=self._headers)
        except httpx.HTTPError as error:
            raise ConsentTrailUnavailableError(f"trail request failed ({type(error).__name__})") from None
        if response.status_code != httpx.codes.OK:
            raise ConsentTrailUnavailableError(f"the consent service answered HTTP {response.status_code}")
        try:
            return ConsentTrail.model_validate_json(response.content)
        except ValidationError:
            raise ConsentTrailUnavailableError("the consent service's trail is malformed") from None

    def close(self) -> None:
        self._client.close()
