"""Where the contract's data files live: schemas/ in the repository (editable install) or inside the wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "_data"
# schemas/src/joinedup/contract/paths.py -> parents[3] is schemas/
_REPO = Path(__file__).resolve().parents[3]


def schemas_root() -> Path:
    """The folder holding ``<context>/*.avsc``, ``vocabularies/`` and ``topics.yaml``."""
    configured = os.environ.get("JOINEDUP_SCHEMAS_DIR")
    if configured:
        return Path(configured)
    return _PACKAGED if _PACKAGED.exists() else _REPO


def vocabularies_dir() -> Path:
    return schemas_root() / "vocabularies"
