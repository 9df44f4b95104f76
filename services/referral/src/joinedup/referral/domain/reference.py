"""The reference data validation needs, passed in (the domain imports no vocabulary files)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ReferenceData:
    """Known codes and identifier checks. The app layer builds one from the contract's vocabularies."""

    agencies: frozenset[str]
    assessment_types: frozenset[str]
    contact_types: frozenset[str]
    need_codes: frozenset[str]
    data_categories: frozenset[str]
    nhs_number_is_valid: Callable[[str], bool]
    ni_number_is_valid: Callable[[str], bool]
