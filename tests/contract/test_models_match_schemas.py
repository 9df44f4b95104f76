"""Every pydantic model mirrors its Avro record: same name, same fields in the same order, same types,
same optionality and defaults. A schema change that forgets the model (or the reverse) fails here."""

from __future__ import annotations

import types
import typing
import uuid
from datetime import date
from typing import Any

import pytest
from annotated_types import Ge
from pydantic import AwareDatetime, BaseModel

from joinedup.contract.models import ALL_MODELS, AvroRecord
from joinedup.contract.schemas import registry

INT32_MIN, INT64_MIN = -(2**31), -(2**63)


def avro_shape(annotation: Any, metadata: list[Any]) -> Any:
    """The Avro type a Python annotation stands for (named records by full name)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return avro_shape(inner, [*metadata, *extra])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        assert len(args) == 2, f"only T | None unions are modelled, got {annotation}"
        assert len(rest) == 1, f"only T | None unions are modelled, got {annotation}"
        return ["null", avro_shape(rest[0], [])]
    if origin is tuple:
        item, ellipsis = typing.get_args(annotation)
        assert ellipsis is Ellipsis
        return {"type": "array", "items": avro_shape(item, [])}
    if isinstance(annotation, type) and issubclass(annotation, AvroRecord):
        return annotation.avro_name
    if annotation is bool:
        return "boolean"
    if annotation is AwareDatetime:
        return {"type": "long", "logicalType": "timestamp-micros"}
    if annotation is int:
        lower = next((m.ge for m in _flatten(metadata) if isinstance(m, Ge)), None)
        assert lower in (INT32_MIN, INT64_MIN), "an int field must be Int32 or Int64"
        return "int" if lower == INT32_MIN else "long"
    simple = {
        str: "string",
        float: "double",
        bytes: "bytes",
        date: {"type": "int", "logicalType": "date"},
        uuid.UUID: {"type": "string", "logicalType": "uuid"},
    }
    if annotation in simple:
        return simple[annotation]
    raise AssertionError(f"no Avro type for {annotation!r}")


def _flatten(metadata: list[Any]) -> list[Any]:
    out = []
    for item in metadata:
        out.append(item)
        out.extend(getattr(item, "metadata", []))
    return out


def schema_shape(schema: Any) -> Any:
    """A field type from an .avsc, reduced to what a model can express (docs and code attributes dropped)."""
    if isinstance(schema, list):
        return [schema_shape(branch) for branch in schema]
    if isinstance(schema, dict):
        if schema["type"] == "array":
            return {"type": "array", "items": schema_shape(schema["items"])}
        if schema["type"] == "record":
            return schema["name"] if "." in schema["name"] else f"{schema['namespace']}.{schema['name']}"
        return {"type": schema["type"], "logicalType": schema["logicalType"]}
    return schema


def model_field_types(model: type[BaseModel]) -> list[tuple[str, Any, Any]]:
    hints = typing.get_type_hints(model, include_extras=True)
    out = []
    for name, info in model.model_fields.items():
        shape = avro_shape(hints[name], list(info.metadata))
        default = info.default if not info.is_required() else "<required>"
        out.append((name, shape, list(default) if isinstance(default, tuple) else default))
    return out


def schema_field_types(raw: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(f["name"], schema_shape(f["type"]), f.get("default", "<required>")) for f in raw["fields"]]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.avro_name)
def test_the_model_mirrors_its_avro_record(model: type[AvroRecord]) -> None:
    raw = registry().tree.current[model.avro_name].raw
    assert model.__name__ == raw["name"]
    assert model_field_types(model) == schema_field_types(raw)


def test_every_schema_has_a_model_and_every_model_a_schema() -> None:
    assert sorted(m.avro_name for m in ALL_MODELS) == registry().names()
    assert all(registry()[name].model is not None for name in registry().names())


def test_model_docstrings_are_the_record_docs() -> None:
    for model in ALL_MODELS:
        raw = registry().tree.current[model.avro_name].raw
        assert (model.__doc__ or "").strip() == raw["doc"], model.avro_name


def test_the_shape_check_sees_a_wrong_optionality() -> None:
    class Wrong(AvroRecord):
        avro_name: typing.ClassVar[str] = "joinedup.common.RecordRef"
        agency: str | None = None
        local_person_id: str

    raw = registry().tree.current["joinedup.common.RecordRef"].raw
    assert model_field_types(Wrong) != schema_field_types(raw)
