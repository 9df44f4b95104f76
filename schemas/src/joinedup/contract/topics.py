"""The topic catalog (schemas/topics.yaml), expanded over the agency vocabulary.

Every topic is declared once. Services ask the catalog for names (``intake_topic("police")``) instead of
writing strings, and ``joinedup topics apply`` creates exactly what the catalog says.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from joinedup.contract.paths import schemas_root
from joinedup.contract.vocabularies import Vocabularies, vocabularies

AGENCY_PLACEHOLDER = "{agency}"
_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000}
TIMESTAMP_TYPES = {"producer": "CreateTime", "broker": "LogAppendTime"}
"""The catalog's ``timestamps`` -> Kafka's ``message.timestamp.type``."""

REFERRAL_EVENTS = "joinedup.referral.events"
CONSENT_EVENTS = "joinedup.consent.events"
IDENTITY_EVENTS = "joinedup.identity.events"
IDENTITY_ASSERTIONS = "joinedup.identity.assertions"
ALERTS = "joinedup.alerts"
AUDIT_ACCESS = "joinedup.audit.access"
DEAD_LETTER = "joinedup.deadletter"
INTAKE_PREFIX = "joinedup.intake."
RECEIPTS_PREFIX = "joinedup.receipts."


class TopicSpec(BaseModel):
    """One concrete topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    owner: str
    key: str
    values: tuple[str, ...] = Field(min_length=1)
    partitions: int = Field(gt=0, le=256)
    retention: str
    compact: bool = False
    timestamps: Literal["producer", "broker"] = "producer"
    """Whose clock a record's Kafka timestamp is: the producer's (CreateTime) or the broker's, set when it
    appends the record (LogAppendTime)."""

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        if value != "forever" and not _DURATION.match(value):
            raise ValueError(f"retention {value!r} must be 'forever' or a duration like 30d, 12h, 90m")
        return value

    @property
    def retention_ms(self) -> int:
        match = _DURATION.match(self.retention)
        if match is None:
            return -1
        return int(match.group(1)) * _UNIT_MS[match.group(2)]

    def config(self) -> dict[str, str]:
        """The broker-side topic configs this spec implies."""
        return {
            "cleanup.policy": "compact" if self.compact else "delete",
            "retention.ms": str(self.retention_ms),
            "message.timestamp.type": TIMESTAMP_TYPES[self.timestamps],
        }


class _CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    topics: tuple[TopicSpec, ...]


class TopicCatalog:
    def __init__(self, templates: tuple[TopicSpec, ...], vocab: Vocabularies) -> None:
        self.templates = templates
        agencies = [a.code for a in vocab.agencies.codes]
        expanded: list[TopicSpec] = []
        for spec in templates:
            if AGENCY_PLACEHOLDER in spec.name:
                expanded.extend(
                    spec.model_copy(update={"name": spec.name.replace(AGENCY_PLACEHOLDER, a)})
                    for a in agencies
                )
            else:
                expanded.append(spec)
        names = [t.name for t in expanded]
        if len(names) != len(set(names)):
            raise ValueError("the topic catalog declares a topic twice")
        self.topics: tuple[TopicSpec, ...] = tuple(expanded)
        self._by_name = {t.name: t for t in expanded}

    @classmethod
    def load(cls, path: Path | None = None, vocab: Vocabularies | None = None) -> TopicCatalog:
        raw = yaml.safe_load((path or schemas_root() / "topics.yaml").read_text())
        parsed = _CatalogFile.model_validate(raw)
        return cls(parsed.topics, vocab or vocabularies())

    def __getitem__(self, name: str) -> TopicSpec:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return [t.name for t in self.topics]

    def renamed(self, prefix: str) -> dict[str, TopicSpec]:
        """The catalog with every name prefixed (tests use this for unique, isolated topics)."""
        return {t.name: t.model_copy(update={"name": prefix + t.name}) for t in self.topics}


@cache
def catalog() -> TopicCatalog:
    return TopicCatalog.load()


def intake_topic(agency: str) -> str:
    return INTAKE_PREFIX + agency


def intake_topics() -> tuple[str, ...]:
    """Every agency's intake topic in the catalog (catalog names), sorted."""
    return tuple(sorted(name for name in catalog().names() if name.startswith(INTAKE_PREFIX)))


def receipts_topic(agency: str) -> str:
    return RECEIPTS_PREFIX + agency


def agency_of_intake_topic(topic: str) -> str | None:
    """The agency a topic belongs to (the identity of whoever wrote to it), or None if not an intake topic."""
    if not topic.startswith(INTAKE_PREFIX):
        return None
    return topic[len(INTAKE_PREFIX) :] or None
