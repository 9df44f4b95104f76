"""What the consent service is asked to do: an agency's consent statement, and a DPO's agreement commands.

The models are deliberately permissive about content (blank strings, unknown codes, odd versions) so that
the named rules in ``rules.py`` reject them with a reason code; only shape errors (a missing field, a
wrong type) fail here, and ``parse_command`` turns those into the same named errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from joinedup.consent.domain.errors import CommandRejectedError, InvalidFieldError, MissingFieldError
from joinedup.consent.domain.scope import CodeTuple, RecordRef, Scope
from joinedup.consent.domain.timestamps import UtcDatetime


class ConsentStatement(BaseModel):
    """An agency's consent statement as submitted on its intake topic (joinedup.intake.ConsentStatement).

    ``source_agency`` is the agency the envelope claims; ``occurred_at`` is the envelope's, and is when the
    statement takes effect.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_agency: str
    statement_ref: str
    version: int
    subject: RecordRef
    kind: str
    scope: Scope = Scope()
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None
    captured_by: str
    evidence_ref: str | None = None
    occurred_at: UtcDatetime

    @property
    def statement_id(self) -> str:
        return f"{self.subject.agency}/{self.statement_ref}"


class RegisterSharingAgreement(BaseModel):
    """A DPO registers (or amends, with a higher version) an information sharing agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agreement_id: str
    version: int
    owner_agencies: CodeTuple
    recipient_agencies: CodeTuple
    purposes: CodeTuple
    data_categories: CodeTuple
    lawful_basis: str
    legal_reference: str
    valid_from: UtcDatetime
    valid_until: UtcDatetime | None = None
    override_purposes: CodeTuple = ()
    registered_by: str


class EndSharingAgreement(BaseModel):
    """A DPO ends an agreement from ``ended_at``; the end is a version of the agreement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agreement_id: str
    version: int
    ended_at: UtcDatetime
    ended_by: str
    reason: str


CommandT = TypeVar("CommandT", bound=BaseModel)


def parse_command(model: type[CommandT], raw: Mapping[str, object]) -> CommandT:
    """Validate a decoded command (an Avro dict, a JSON body) and raise a named rejection if it is malformed.

    Only pydantic's message and the field path are kept: its full error text quotes the input.
    """
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        error: type[CommandRejectedError] = (
            MissingFieldError if first["type"] == "missing" else InvalidFieldError
        )
        raise error(field, first["msg"]) from None
