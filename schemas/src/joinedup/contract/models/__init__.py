"""Pydantic models of every Avro record, one module per context. ``ALL_MODELS`` lists them all."""

from __future__ import annotations

from joinedup.contract.models import (
    alerts,
    audit,
    consent,
    deadletter,
    identity,
    intake,
    receipts,
    referral,
    shared_records,
)
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.event import Event

_MODULES = (shared_records, intake, receipts, referral, consent, identity, alerts, audit, deadletter)


def _records_of(module: object) -> list[type[AvroRecord]]:
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, AvroRecord)
        and "avro_name" in vars(value)
        and value.__module__ == getattr(module, "__name__", None)
    ]
    return sorted(found, key=lambda cls: cls.avro_name)


ALL_MODELS: tuple[type[AvroRecord], ...] = tuple(cls for module in _MODULES for cls in _records_of(module))
"""Every record model, sorted by context then name."""

__all__ = ["ALL_MODELS", "AvroRecord", "Event"]
