"""Checking the codes a record carries against the vocabularies (and the schema's closed lists).

Codes are plain strings on the wire, so an unknown code decodes fine and is caught here instead, where the
caller can turn it into a clear rejection. A field's ``vocabulary`` attribute in the .avsc names the code list
(``agencies``, ``purposes``...); an ``allowed`` attribute lists the only values a field may take (statuses,
kinds, urgency). Both apply to a string, an optional string or every string of an array.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joinedup.contract.models.base import AvroRecord
from joinedup.contract.schemas import ContractRegistry, registry
from joinedup.contract.vocabularies import Vocabularies, vocabularies


@dataclass(frozen=True)
class UnknownCode:
    """A code that is not in its list. ``field`` is a dotted path (``scope.purposes[1]``)."""

    field: str
    code: str
    vocabulary: str | None
    """The vocabulary's name, or None when the schema's own ``allowed`` list applies."""
    allowed: tuple[str, ...] = ()

    def describe(self) -> str:
        """A message safe to log and to send back to an agency (it does not repeat the value)."""
        if self.vocabulary is not None:
            return f"{self.field} is not a code of the {self.vocabulary} vocabulary"
        return f"{self.field} must be one of: {', '.join(self.allowed)}"


def unknown_codes(
    record: AvroRecord, vocab: Vocabularies | None = None, contract: ContractRegistry | None = None
) -> list[UnknownCode]:
    """Every code in ``record`` that its vocabulary (or allowed list) does not know, in field order."""
    found = contract or registry()
    walker = _Walker(vocab or vocabularies(), found)
    walker.record(found[record.avro_name].current.schema, record.model_dump(), "")
    return walker.problems


class _Walker:
    def __init__(self, vocab: Vocabularies, contract: ContractRegistry) -> None:
        self.vocab = vocab
        self.contract = contract
        self.problems: list[UnknownCode] = []
        self._code_sets: dict[str, frozenset[str]] = {}

    def codes(self, vocabulary: str) -> frozenset[str]:
        if vocabulary not in self._code_sets:
            self._code_sets[vocabulary] = getattr(self.vocab, vocabulary).code_set()
        return self._code_sets[vocabulary]

    def record(self, schema: Any, value: Mapping[str, Any], path: str) -> None:
        if isinstance(schema, str):
            schema = self.contract[schema].current.schema
        for spec in schema["fields"]:
            name = spec["name"]
            where = f"{path}.{name}" if path else name
            self.value(spec, spec["type"], value.get(name), where)

    def value(self, spec: Mapping[str, Any], schema: Any, value: Any, path: str) -> None:
        if value is None:
            return
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) == 1:
                self.value(spec, branches[0], value, path)
            return
        if isinstance(schema, dict) and schema.get("type") == "array":
            for index, item in enumerate(value):
                self.value(spec, schema["items"], item, f"{path}[{index}]")
            return
        if isinstance(schema, dict) and schema.get("type") == "record":
            self.record(schema, value, path)
            return
        if isinstance(schema, str) and schema.startswith("joinedup."):
            self.record(schema, value, path)
            return
        if isinstance(value, str):
            self.code(spec, value, path)

    def code(self, spec: Mapping[str, Any], value: str, path: str) -> None:
        vocabulary = spec.get("vocabulary")
        if isinstance(vocabulary, str) and value not in self.codes(vocabulary):
            self.problems.append(UnknownCode(path, value, vocabulary))
        allowed = spec.get("allowed")
        if isinstance(allowed, list) and value not in allowed:
            self.problems.append(UnknownCode(path, value, None, tuple(allowed)))
