"""Where the local runtime keeps things: the repository's deploy files and the git-ignored state folder."""

from __future__ import annotations

import os
from pathlib import Path

# deploy/local/src/joinedup/local/layout.py -> parents[4] is deploy/, parents[5] the repository root.
_DEPLOY_DIR = Path(__file__).resolve().parents[4]


def repo_root() -> Path:
    return _DEPLOY_DIR.parent


def kafka_deploy_dir() -> Path:
    """deploy/kafka: the pom, the server.properties template and the broker's log config."""
    return _DEPLOY_DIR / "kafka"


def state_dir() -> Path:
    """The local state folder (git-ignored): jars, broker data, logs, pid files.

    ``JOINEDUP_HOME`` moves it; the default is ``.joinedup/`` at the repository root.
    """
    configured = os.environ.get("JOINEDUP_HOME")
    return Path(configured).resolve() if configured else repo_root() / ".joinedup"


def jar_cache_dir() -> Path:
    return state_dir() / "kafka"


def broker_data_dir() -> Path:
    return state_dir() / "broker"
