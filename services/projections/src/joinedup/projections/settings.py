"""The projections service's settings: environment variables ``JOINEDUP_PROJECTIONS_<FIELD>`` (and
``KAFKA_BOOTSTRAP_SERVERS`` through :class:`joinedup.contract.settings.KafkaSettings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectionsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOINEDUP_PROJECTIONS_", extra="ignore")

    data_dir: Path = Path(".joinedup/data")
    """The identity resolver's state, offsets and outbox: ``<data_dir>/projections/identity.sqlite``."""
    topic_prefix: str = ""
    """Prefix of every topic name (tests run on isolated, prefixed topics)."""
    batch_size: int = Field(default=500, gt=0)
    """The most inputs resolved in one SQLite transaction."""
    durable: bool = False
    """``PRAGMA synchronous=FULL`` (survives power loss, not only a killed process); slower."""
