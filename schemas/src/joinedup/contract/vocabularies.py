"""Code lists (agencies, assessment types, purposes, ...) as validated data, not Avro enums.

Adding a code is a change to a YAML file under ``schemas/vocabularies/``, never to a schema. Every file is
validated when it is loaded: unknown keys, duplicate codes, badly formed codes and dangling group references
are errors.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from joinedup.contract.paths import vocabularies_dir

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class Code(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    label: str = Field(min_length=1)

    @field_validator("code")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError(f"code {value!r} must be lower case letters, digits and hyphens")
        return value


class Agency(Code):
    kind: str


class AssessmentGroup(Code):
    pass


class AssessmentType(Code):
    group: str
    repeat_window_days: int = Field(gt=0, le=3650)


class ContactType(Code):
    pass


class Purpose(Code):
    override: bool = False


class DataCategory(Code):
    special: bool = False
    criminal: bool = False


class LawfulBasis(Code):
    kind: str


class NeedCode(Code):
    pass


C = TypeVar("C", bound=Code)


class CodeList(BaseModel, Generic[C]):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    codes: tuple[C, ...]

    @model_validator(mode="after")
    def _unique(self) -> CodeList[C]:
        seen: set[str] = set()
        for item in self.codes:
            if item.code in seen:
                raise ValueError(f"duplicate code {item.code!r}")
            seen.add(item.code)
        return self

    def get(self, code: str) -> C | None:
        for item in self.codes:
            if item.code == code:
                return item
        return None

    def __contains__(self, code: object) -> bool:
        return any(item.code == code for item in self.codes)

    def code_set(self) -> frozenset[str]:
        return frozenset(item.code for item in self.codes)


class AssessmentTypes(CodeList[AssessmentType]):
    groups: tuple[AssessmentGroup, ...]

    @model_validator(mode="after")
    def _groups_exist(self) -> AssessmentTypes:
        known = {g.code for g in self.groups}
        for item in self.codes:
            if item.group not in known:
                raise ValueError(f"assessment type {item.code!r} names unknown group {item.group!r}")
        return self

    def equivalent(self, a: str, b: str) -> bool:
        """Same type, or two types of the same equivalence group."""
        if a == b:
            return True
        ta, tb = self.get(a), self.get(b)
        return ta is not None and tb is not None and ta.group == tb.group


class VocabularyError(ValueError):
    """A vocabulary file is missing or invalid."""


def _load(path: Path, model: type[BaseModel]) -> BaseModel:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise VocabularyError(f"cannot read vocabulary {path}: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValueError as exc:
        raise VocabularyError(f"invalid vocabulary {path}: {exc}") from exc


class Vocabularies(BaseModel):
    """Every code list, loaded together."""

    model_config = ConfigDict(frozen=True)

    agencies: CodeList[Agency]
    assessment_types: AssessmentTypes
    contact_types: CodeList[ContactType]
    purposes: CodeList[Purpose]
    data_categories: CodeList[DataCategory]
    lawful_bases: CodeList[LawfulBasis]
    need_codes: CodeList[NeedCode]

    @classmethod
    def load(cls, directory: Path | None = None) -> Vocabularies:
        base = directory or vocabularies_dir()
        return cls(
            agencies=_load(base / "agencies.yaml", CodeList[Agency]),
            assessment_types=_load(base / "assessment_types.yaml", AssessmentTypes),
            contact_types=_load(base / "contact_types.yaml", CodeList[ContactType]),
            purposes=_load(base / "purposes.yaml", CodeList[Purpose]),
            data_categories=_load(base / "data_categories.yaml", CodeList[DataCategory]),
            lawful_bases=_load(base / "lawful_bases.yaml", CodeList[LawfulBasis]),
            need_codes=_load(base / "need_codes.yaml", CodeList[NeedCode]),
        )


@cache
def vocabularies() -> Vocabularies:
    """The project's vocabularies, loaded once per process."""
    return Vocabularies.load()
