"""The codes the consent rules check, read from the contract's vocabularies."""

from __future__ import annotations

from joinedup.consent.domain.codes import KnownCodes
from joinedup.contract.vocabularies import Vocabularies, vocabularies


def known_codes(vocab: Vocabularies | None = None) -> KnownCodes:
    """Agencies, purposes (and which are override purposes), data categories and lawful bases."""
    source = vocab if vocab is not None else vocabularies()
    return KnownCodes(
        agencies=source.agencies.code_set(),
        purposes=source.purposes.code_set(),
        override_purposes=frozenset(p.code for p in source.purposes.codes if p.override),
        data_categories=source.data_categories.code_set(),
        lawful_basis_kinds={basis.code: basis.kind for basis in source.lawful_bases.codes},
    )
