"""The codes the consent rules check against, handed in by the application (the domain reads no files)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class KnownCodes(BaseModel):
    """Known agencies, purposes, data categories and lawful bases (code -> kind)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agencies: frozenset[str]
    purposes: frozenset[str]
    override_purposes: frozenset[str]
    """Purposes with the vocabulary's ``override`` flag (safeguarding, vital interests)."""
    data_categories: frozenset[str]
    lawful_basis_kinds: dict[str, str]
    """Lawful basis code -> its kind (consent, statutory, agreement, emergency)."""
