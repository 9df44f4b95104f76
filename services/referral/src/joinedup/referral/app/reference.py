"""Reference data for validation, built from the contract's vocabularies and identifier checks."""

from __future__ import annotations

from functools import cache

from joinedup.contract.identifiers import nhs_number_is_valid, ni_number_is_valid
from joinedup.contract.vocabularies import Vocabularies, vocabularies
from joinedup.referral.domain.reference import ReferenceData


def reference_data(vocab: Vocabularies | None = None) -> ReferenceData:
    """The codes and checks validation uses (the project's vocabularies unless others are given)."""
    v = vocab or vocabularies()
    return ReferenceData(
        agencies=v.agencies.code_set(),
        assessment_types=v.assessment_types.code_set(),
        contact_types=v.contact_types.code_set(),
        need_codes=v.need_codes.code_set(),
        data_categories=v.data_categories.code_set(),
        nhs_number_is_valid=nhs_number_is_valid,
        ni_number_is_valid=ni_number_is_valid,
    )


@cache
def default_reference_data() -> ReferenceData:
    """The project's reference data, built once per process."""
    return reference_data()
