"""Who is calling: bearer tokens from a YAML file, each naming an agency, a user and a role.

```yaml
tokens:
  "<token>": {agency: nhs-mh-trust, user: dpo-07, role: dpo}
```

Roles: ``caseworker``, ``dpo``, ``admin``, and ``service`` for another joinedup service (the projections
query API asks for decisions).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Role = Literal["caseworker", "dpo", "admin", "service"]


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str = Field(min_length=1)
    user: str = Field(min_length=1)
    role: Role


class _TokenFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: dict[str, Principal] = {}


class TokenBook:
    """The known tokens. Look-ups compare every token in constant time."""

    def __init__(self, tokens: Mapping[str, Principal]) -> None:
        self._tokens = tuple((token.encode(), principal) for token, principal in sorted(tokens.items()))

    @classmethod
    def load(cls, path: Path | None) -> TokenBook:
        """The tokens in ``path`` (none at all without a file)."""
        if path is None:
            return cls({})
        return cls(_TokenFile.model_validate(yaml.safe_load(path.read_text()) or {}).tokens)

    def principal(self, token: str) -> Principal | None:
        offered = token.encode()
        found: Principal | None = None
        for known, principal in self._tokens:
            if hmac.compare_digest(known, offered):
                found = principal
        return found
