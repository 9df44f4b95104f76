"""The versioned Fellegi-Sunter model: m / u probabilities per comparison level, thresholds, block cap.

The model lives in a YAML file shipped with the package (data/model_v3.yaml; earlier versions stay beside it).
Its ``version`` is recorded in every identity event.
"""

from __future__ import annotations

import math
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

# The comparison levels each field may have, in the order matching.py tries them. "missing" is implicit.
FIELD_LEVELS: dict[str, tuple[str, ...]] = {
    "given_name": ("exact", "nickname", "typo", "phonetic", "similar", "middle-name", "initial", "disagree"),
    "family_name": ("exact", "partial", "typo", "phonetic", "disagree"),
    "date_of_birth": ("exact", "transposed", "one-part", "near", "year-only", "disagree"),
    "sex": ("agree", "disagree"),
    "address": ("same-address", "same-postcode", "same-street", "same-sector", "disagree"),
    "phone": ("agree", "disagree"),
    "email": ("agree", "disagree"),
    "nhs_number": ("near", "disagree"),
    "ni_number": ("near", "disagree"),
}

DEFAULT_MODEL_FILE = "model_v3.yaml"


class MatchModelError(ValueError):
    """The model file is missing, unreadable or inconsistent."""


class Probabilities(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    m: float = Field(gt=0.0, le=1.0)
    u: float = Field(gt=0.0, le=1.0)

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


class Thresholds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    link: float
    review: float
    ambiguity_margin: float = Field(ge=0.0)
    """A record scoring within this many bits of its own person against a person it cannot join is not
    attached by score (it goes to review)."""
    uncorroborated: float | None = None
    """A pair whose surname disagrees or whose date of birth only nearly agrees, and that shares no locator
    (address, phone, e-mail, near identifier), links on its own score only at or above this; below it, only
    when another record of the person shares a locator with it (person-level evidence). None: no such rule
    (models before fs-v3)."""

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.link:
            raise ValueError("the review threshold must not be above the link threshold")
        if self.uncorroborated is not None and self.uncorroborated < self.link:
            raise ValueError("the uncorroborated threshold must not be below the link threshold")
        return self


class Blocking(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_block_size: int = Field(ge=2)


class StringSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    jaro_winkler_typo: float = Field(gt=0.0, le=1.0)
    address_line_similarity: float = Field(gt=0.0, le=100.0)


class MatchModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    thresholds: Thresholds
    name_swap_weight: float
    blocking: Blocking
    strings: StringSettings
    term_frequencies: dict[str, dict[str, float]] = Field(default_factory=dict)
    comparisons: dict[str, dict[str, Probabilities]]

    @model_validator(mode="after")
    def _frequencies_are_shares(self) -> MatchModel:
        if not set(self.term_frequencies) <= {"given_name", "family_name"}:
            raise ValueError("term frequencies are for given_name and family_name only")
        for field, shares in self.term_frequencies.items():
            for name, share in shares.items():
                if not 0.0 < share < 1.0 or name != name.upper():
                    raise ValueError(
                        f"{field} frequency of {name!r} must be a share in (0, 1), name upper case"
                    )
        return self

    @model_validator(mode="after")
    def _levels_complete(self) -> MatchModel:
        if set(self.comparisons) != set(FIELD_LEVELS):
            raise ValueError(f"comparisons must be exactly {sorted(FIELD_LEVELS)}")
        for name, levels in FIELD_LEVELS.items():
            if set(self.comparisons[name]) != set(levels):
                raise ValueError(f"field {name!r} must have levels {list(levels)}")
        return self

    def weights(self) -> dict[str, dict[str, float]]:
        """field -> level -> log2(m/u)."""
        return {
            name: {level: probs.weight for level, probs in levels.items()}
            for name, levels in self.comparisons.items()
        }

    def exact_name_weights(self) -> dict[str, dict[str, float]]:
        """field -> name -> the weight of an exact agreement on that (common) name: log2(m / share)."""
        result: dict[str, dict[str, float]] = {}
        for field, shares in self.term_frequencies.items():
            exact = self.comparisons[field]["exact"]
            result[field] = {
                name: math.log2(exact.m / max(exact.u, share)) for name, share in sorted(shares.items())
            }
        return result


def load_match_model(path: Path | None = None) -> MatchModel:
    """Load a model file; the packaged current version when no path is given."""
    try:
        text = (
            path.read_text()
            if path is not None
            else files("joinedup.projections.identity").joinpath("data", DEFAULT_MODEL_FILE).read_text()
        )
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise MatchModelError(f"cannot read the match model: {exc}") from exc
    try:
        return MatchModel.model_validate(raw)
    except ValueError as exc:
        raise MatchModelError(f"invalid match model: {exc}") from exc


@cache
def default_match_model() -> MatchModel:
    return load_match_model()
