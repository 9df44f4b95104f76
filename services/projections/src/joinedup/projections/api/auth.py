"""Who is calling the query API: bearer tokens from a YAML file, each naming an agency, a user and a role.

```yaml
tokens:
  "<token>": {agency: council-asc, user: cw-4411, role: caseworker}
  "<token>": {agency: nhs-mh-trust, user: dpo-07, role: dpo}
```

Roles: ``caseworker`` (reads person views), ``dpo`` (reads person views, the access audit log and consent
trails), ``admin`` (operations: no personal data through this API).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Role = Literal["caseworker", "dpo", "admin"]


class Principal(BaseModel):
    """The caller a token stands for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str = Field(min_length=1)
    user: str = Field(min_length=1)
    role: Role


class _TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: dict[str, Principal] = {}


class UnknownAgencyInTokensError(ValueError):
    """A token names an agency the vocabulary does not know."""


class TokenBook:
    """The known tokens. A look-up compares the offered token with every known one in constant time."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._tokens = tuple((token.encode(), principal) for token, principal in sorted(tokens.items()))

    @classmethod
    def load(cls, path: Path | None, agencies: frozenset[str] | None = None) -> TokenBook:
        """Tokens in ``path`` (none without a file); with ``agencies``, each token's agency must be in it."""
        if path is None:
            return cls({})
        tokens = _TokenFile.model_validate(yaml.safe_load(path.read_text()) or {}).tokens
        if agencies is not None:
            unknown = sorted({p.agency for p in tokens.values()} - agencies)
            if unknown:
                raise UnknownAgencyInTokensError(f"the token file names unknown agencies: {unknown}")
        return cls(tokens)

    def principal(self, token: str) -> Principal | None:
        offered = token.encode()
        found: Principal | None = None
        for known, principal in self._tokens:
            if hmac.compare_digest(known, offered):
                found = principal
        return found
