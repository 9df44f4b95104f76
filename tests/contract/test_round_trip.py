"""Round trips for every record type (hypothesis): model -> bytes -> model gives back an equal model, and the
dict API agrees. Values are generated from each record's Avro schema, so a new record is covered as soon as
it has a schema and a model."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.contract.schemas import ContractRegistry, registry
from joinedup.contract.serde import default_codec

MIN_TIME = datetime(1900, 1, 1)
MAX_TIME = datetime(2200, 1, 1)


def strategy_for(schema: Any, contract: ContractRegistry) -> st.SearchStrategy[Any]:
    """Values of an Avro type, in fastavro's datum form."""
    if isinstance(schema, list):
        return st.one_of([strategy_for(branch, contract) for branch in schema])
    if isinstance(schema, str) and schema.startswith("joinedup."):
        return strategy_for(contract[schema].current.schema, contract)
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        if logical == "timestamp-micros":
            return st.datetimes(MIN_TIME, MAX_TIME, timezones=st.just(UTC))
        if logical == "date":
            return st.dates()
        if logical == "uuid":
            return st.uuids()
        if schema["type"] == "array":
            return st.lists(strategy_for(schema["items"], contract), max_size=3)
        if schema["type"] == "record":
            return st.fixed_dictionaries(
                {f["name"]: strategy_for(f["type"], contract) for f in schema["fields"]}
            )
        return strategy_for(schema["type"], contract)
    primitives: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False),
        "string": st.text(max_size=12),
        "bytes": st.binary(max_size=12),
    }
    return primitives[schema]


@cache
def records(full_name: str) -> st.SearchStrategy[Any]:
    contract = registry()
    found = contract[full_name]
    assert found.model is not None
    model = found.model

    def fix_envelope(data: dict[str, Any]) -> Any:
        if "envelope" in data:
            data["envelope"]["event_type"] = found.short_name
            data["envelope"]["schema_fingerprint"] = found.current.fingerprint_hex
        return model.model_validate(data)

    return strategy_for(found.current.schema, contract).map(fix_envelope)


@pytest.mark.parametrize("full_name", registry().names())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_record_type_survives_a_round_trip(full_name: str, data: st.DataObject) -> None:
    codec = default_codec()
    record = data.draw(records(full_name))
    payload = codec.encode(record)
    assert codec.decode(payload) == record
    name, as_dict = codec.decode_dict(payload)
    assert name.full_name == full_name
    assert codec.encode_dict(full_name, as_dict) == payload


@settings(max_examples=10, deadline=None)
@given(batch=st.lists(records("joinedup.intake.ReferralSubmission"), max_size=5))
def test_a_batch_round_trips_in_order(batch: list[Any]) -> None:
    codec = default_codec()
    assert codec.decode_many(codec.encode_many(batch)) == batch
