"""The access audit log on ``joinedup.audit.access`` (DPA 2018 s.62)."""

from __future__ import annotations

from typing import ClassVar

from joinedup.contract.models.base import AvroRecord, Int32, Int64
from joinedup.contract.models.event import Event


class DisclosedItem(AvroRecord):
    """One item disclosed in a read, with the basis it was disclosed on."""

    avro_name: ClassVar[str] = "joinedup.audit.DisclosedItem"
    item_ref: str
    owner_agency: str
    data_category: str
    basis: str
    basis_ref: str | None = None


class AccessRecorded(Event):
    """A read of personal data happened (DPA 2018 s.62 log); records are hash-chained."""

    avro_name: ClassVar[str] = "joinedup.audit.AccessRecorded"
    sequence: Int64
    user_id: str
    agency: str
    role: str
    purpose: str
    request: str
    person_id: str | None = None
    outcome: str
    disclosed: tuple[DisclosedItem, ...]
    withheld_count: Int32
    break_glass: bool
    break_glass_justification: str | None = None
    prev_hash: str
    hash: str
