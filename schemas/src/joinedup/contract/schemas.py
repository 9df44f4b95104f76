"""Loading the .avsc files, resolving named types across files, fingerprints, and the record registry.

Layout (see schemas/README.md): the current version of a record is ``<context>/<full name>.avsc``; every past
version is kept, self-contained (named types inlined), as ``<context>/history/<full name>.v<N>.avsc``. A
current file refers to shared records by full name; fastavro's ``load_schema`` resolves them through a
repository over the same tree, which yields one self-contained ("expanded") schema per record.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from fastavro.repository import AbstractSchemaRepository, SchemaRepositoryError
from fastavro.schema import (
    fingerprint,
    load_schema,
    parse_schema,
    to_parsing_canonical_form,
)

from joinedup.contract.errors import SchemaError, UnknownRecord
from joinedup.contract.models import ALL_MODELS, AvroRecord
from joinedup.contract.paths import schemas_root

JsonSchema = dict[str, Any]

HISTORY_DIR = "history"
_HISTORY_NAME = re.compile(r"^(?P<name>.+)\.v(?P<version>[1-9][0-9]*)\.avsc$")


@dataclass(frozen=True)
class SchemaFile:
    """One .avsc file: a current schema (``version`` None) or a kept past version."""

    path: str
    """Relative to the schemas root, with forward slashes (``intake/joinedup.intake.ContactRecord.avsc``)."""
    full_name: str
    raw: JsonSchema
    version: int | None = None

    @property
    def context(self) -> str:
        return PurePosixPath(self.path).parts[0]


def full_name_of(raw: Mapping[str, Any]) -> str:
    name = str(raw.get("name", ""))
    namespace = raw.get("namespace")
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def fingerprint_of(schema: JsonSchema) -> bytes:
    """The 8-byte CRC-64-AVRO fingerprint (little-endian, as on the wire) of a self-contained schema."""
    canonical = to_parsing_canonical_form(parse_schema(copy.deepcopy(schema), _write_hint=False))
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


class _TreeRepository(AbstractSchemaRepository):
    """fastavro schema repository over the current files of one tree, keyed by full name."""

    def __init__(self, by_name: Mapping[str, SchemaFile]) -> None:
        self._by_name = by_name

    def load(self, name: str) -> JsonSchema:
        found = self._by_name.get(name)
        if found is None:
            raise SchemaRepositoryError(f"no schema file for {name}")
        return copy.deepcopy(found.raw)


class SchemaTree:
    """The .avsc files of one tree: the working tree, or the ``schemas/`` folder at a git revision."""

    def __init__(self, files: Iterable[SchemaFile]) -> None:
        self.files = tuple(sorted(files, key=lambda f: f.path))
        self.current: dict[str, SchemaFile] = {}
        self.history: dict[str, list[SchemaFile]] = {}
        for item in self.files:
            if item.version is None:
                if item.full_name in self.current:
                    raise SchemaError(f"{item.full_name} is defined twice ({item.path})")
                self.current[item.full_name] = item
            else:
                self.history.setdefault(item.full_name, []).append(item)
        for versions in self.history.values():
            versions.sort(key=lambda f: f.version or 0)
        self._expanded: dict[str, JsonSchema] = {}

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> SchemaTree:
        """Build from ``{relative path: file text}`` (only ``*.avsc`` paths are considered)."""
        files = []
        for path, text in texts.items():
            if path.endswith(".avsc"):
                files.append(_parse_file(path, text))
        return cls(files)

    @classmethod
    def from_directory(cls, root: Path | None = None) -> SchemaTree:
        base = root or schemas_root()
        texts = {}
        for path in sorted(base.glob("*/*.avsc")) + sorted(base.glob(f"*/{HISTORY_DIR}/*.avsc")):
            texts[path.relative_to(base).as_posix()] = path.read_text(encoding="utf-8")
        return cls.from_texts(texts)

    def expanded(self, full_name: str) -> JsonSchema:
        """The current schema of ``full_name``, every named type it uses inlined (docs, defaults kept)."""
        if full_name not in self.current:
            raise UnknownRecord(full_name)
        if full_name not in self._expanded:
            try:
                schema = load_schema(full_name, repo=_TreeRepository(self.current), _write_hint=False)
            except Exception as exc:
                raise SchemaError(f"cannot resolve {full_name}: {exc}") from exc
            if not isinstance(schema, dict):
                raise SchemaError(f"{full_name} is not a record")
            self._expanded[full_name] = schema
        return copy.deepcopy(self._expanded[full_name])

    def versions(self, full_name: str) -> list[tuple[int, JsonSchema]]:
        """Every version of a record, oldest first, the current one last, each self-contained."""
        kept = [(f.version or 0, copy.deepcopy(f.raw)) for f in self.history.get(full_name, [])]
        if full_name in self.current:
            kept.append((len(kept) + 1, self.expanded(full_name)))
        return kept


def _parse_file(path: str, text: str) -> SchemaFile:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise SchemaError(f"{path} must hold one Avro record (a JSON object)")
    parts = PurePosixPath(path).parts
    version: int | None = None
    if len(parts) == 3 and parts[1] == HISTORY_DIR:
        match = _HISTORY_NAME.match(parts[2])
        if match is None:
            raise SchemaError(f"{path}: a kept version must be named <full name>.v<N>.avsc")
        version = int(match.group("version"))
    elif len(parts) != 2:
        raise SchemaError(f"{path}: schema files live in <context>/ or <context>/{HISTORY_DIR}/")
    return SchemaFile(path=path, full_name=full_name_of(raw), raw=raw, version=version)


@dataclass(frozen=True)
class SchemaVersion:
    """One version of a record's schema, parsed for fastavro, with its wire fingerprint."""

    full_name: str
    version: int
    schema: JsonSchema = field(repr=False)
    parsed: Any = field(repr=False)
    fingerprint: bytes

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


@dataclass(frozen=True)
class RecordType:
    """A record: its model, its current schema (the reader schema) and every version (writer schemas)."""

    full_name: str
    model: type[AvroRecord] | None
    versions: tuple[SchemaVersion, ...]

    @property
    def current(self) -> SchemaVersion:
        return self.versions[-1]

    @property
    def short_name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]

    @property
    def context(self) -> str:
        return self.full_name.split(".")[1]


class ContractRegistry:
    """Record full name -> (schemas, model); fingerprint -> writer schema version."""

    def __init__(self, tree: SchemaTree, models: Iterable[type[AvroRecord]] = ALL_MODELS) -> None:
        model_by_name = {m.avro_name: m for m in models}
        missing = sorted(set(model_by_name) - set(tree.current))
        if missing:
            raise SchemaError(f"models without a schema file: {', '.join(missing)}")
        self.tree = tree
        self.records: dict[str, RecordType] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for name in sorted(tree.current):
            versions = []
            for number, schema in tree.versions(name):
                version = SchemaVersion(
                    full_name=name,
                    version=number,
                    schema=schema,
                    parsed=_parse(name, number, schema),
                    fingerprint=fingerprint_of(schema),
                )
                clash = self._by_fingerprint.get(version.fingerprint)
                if clash is not None and clash.full_name != name:
                    raise SchemaError(f"{name} v{number} has the same fingerprint as {clash.full_name}")
                self._by_fingerprint.setdefault(version.fingerprint, version)
                versions.append(version)
            self.records[name] = RecordType(name, model_by_name.get(name), tuple(versions))

    def __getitem__(self, full_name: str) -> RecordType:
        try:
            return self.records[full_name]
        except KeyError:
            raise UnknownRecord(full_name) from None

    def __contains__(self, full_name: object) -> bool:
        return full_name in self.records

    def names(self) -> list[str]:
        return sorted(self.records)

    def for_model(self, model: type[AvroRecord]) -> RecordType:
        return self[model.avro_name]

    def by_fingerprint(self, value: bytes) -> SchemaVersion | None:
        return self._by_fingerprint.get(value)

    def fingerprint_hex(self, model: type[AvroRecord]) -> str:
        """The current writer fingerprint of a model's record (``envelope.schema_fingerprint``)."""
        return self.for_model(model).current.fingerprint_hex


def _parse(name: str, number: int, schema: JsonSchema) -> Any:
    try:
        return parse_schema(copy.deepcopy(schema))
    except Exception as exc:
        raise SchemaError(f"{name} v{number} is not a valid Avro schema: {exc}") from exc


@cache
def registry() -> ContractRegistry:
    """The registry of the project's schemas (``schemas_root()``), loaded once per process."""
    return ContractRegistry(SchemaTree.from_directory())
