"""How dirty the synthetic records are: one probability per kind of error, and named presets."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

_P = Field(ge=0.0, le=1.0)


class NoiseLevel(BaseModel):
    """Probabilities of each error, per record (or per person where it says so).

    ``scaled(f)`` multiplies every error rate by ``f`` (capped at 1); formatting variations (spacing, case,
    abbreviations, a dropped NI suffix) are not errors and are not scaled, and neither are the shares in
    ``UNSCALED`` (``old_family_name`` is the share of a married person's records that still carry the former
    surname: scaling it to 1.0 would make every record agree, i.e. *less* noise).
    """

    UNSCALED: ClassVar[frozenset[str]] = frozenset({"old_family_name"})

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "custom"
    nhs_missing: float = _P
    nhs_mistyped: float = _P
    ni_missing: float = _P
    ni_mistyped: float = _P
    given_typo: float = _P
    family_typo: float = _P
    nickname: float = _P
    name_order_swapped: float = _P
    old_family_name: float = _P
    dob_missing: float = _P
    dob_day_month_swapped: float = _P
    dob_typo: float = _P
    sex_missing: float = _P
    sex_wrong: float = _P
    old_address: float = _P
    postcode_typo: float = _P
    postcode_missing: float = _P
    phone_missing: float = _P
    email_missing: float = _P
    duplicate_record: float = _P
    later_update: float = _P

    def scaled(self, factor: float, name: str | None = None) -> NoiseLevel:
        values = {
            key: min(1.0, value * factor)
            for key, value in self.model_dump().items()
            if isinstance(value, float) and key not in self.UNSCALED
        }
        return self.model_copy(update={**values, "name": name or f"{self.name}x{factor:g}"})

    @classmethod
    def moderate(cls) -> NoiseLevel:
        return cls(
            name="moderate",
            nhs_missing=0.10,
            nhs_mistyped=0.03,
            ni_missing=0.10,
            ni_mistyped=0.01,
            given_typo=0.06,
            family_typo=0.05,
            nickname=0.10,
            name_order_swapped=0.02,
            old_family_name=0.5,
            dob_missing=0.01,
            dob_day_month_swapped=0.03,
            dob_typo=0.03,
            sex_missing=0.05,
            sex_wrong=0.01,
            old_address=0.25,
            postcode_typo=0.03,
            postcode_missing=0.03,
            phone_missing=0.20,
            email_missing=0.20,
            duplicate_record=0.02,
            later_update=0.05,
        )

    @classmethod
    def low(cls) -> NoiseLevel:
        return cls.moderate().scaled(0.5, "low")

    @classmethod
    def high(cls) -> NoiseLevel:
        return cls.moderate().scaled(2.0, "high")

    @classmethod
    def named(cls, name: str) -> NoiseLevel:
        presets = {"low": cls.low, "moderate": cls.moderate, "high": cls.high}
        if name not in presets:
            raise ValueError(f"unknown noise level {name!r}; choose one of {sorted(presets)}")
        return presets[name]()
