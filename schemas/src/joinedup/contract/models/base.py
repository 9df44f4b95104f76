"""The base of every model: one pydantic class per Avro record, named like the record.

A model mirrors its record field for field (a contract test checks names, order, optionality, types and
defaults against the .avsc). Codes are plain strings here; :mod:`joinedup.contract.code_checks` checks them
against the vocabularies, so an unknown code becomes a clear rejection instead of an undecodable message.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An Avro ``int``."""
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""An Avro ``long``."""


class AvroRecord(BaseModel):
    """A model of one Avro record. ``avro_name`` is the record's full name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    avro_name: ClassVar[str]

    @classmethod
    def short_name(cls) -> str:
        return cls.avro_name.rsplit(".", 1)[-1]
