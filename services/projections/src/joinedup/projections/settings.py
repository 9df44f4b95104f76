"""The projections service's settings: environment variables ``JOINEDUP_PROJECTIONS_<FIELD>`` (and
``KAFKA_BOOTSTRAP_SERVERS`` through :class:`joinedup.contract.settings.KafkaSettings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProjectionsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOINEDUP_PROJECTIONS_", extra="ignore")

    data_dir: Path = Path(".joinedup/data")
    """The workers' state, offsets and outbox: ``<data_dir>/projections/{identity,person-view}.sqlite``."""
    topic_prefix: str = ""
    """Prefix of every topic name (tests run on isolated, prefixed topics)."""
    batch_size: int = Field(default=500, gt=0)
    """The most inputs resolved in one SQLite transaction."""
    durable: bool = False
    """``PRAGMA synchronous=FULL`` (survives power loss, not only a killed process); slower."""


class ApiSettings(BaseSettings):
    """The query API's settings: environment variables ``JOINEDUP_API_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="JOINEDUP_API_", extra="ignore")

    data_dir: Path = Path(".joinedup/data")
    """The projections data folder: the API reads ``projections/person-view.sqlite`` in it (read-only)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8080, gt=0, lt=65536)
    tokens_file: Path | None = None
    """YAML ``tokens: {<token>: {agency, user, role}}``; without it no request is authenticated."""
    consent_url: str = "http://127.0.0.1:8081"
    """The consent service (decisions and consent trails)."""
    consent_token: SecretStr | None = None
    """A token the consent service knows (its decisions need a service token, trails a dpo or admin one)."""
    consent_timeout_s: float = Field(default=2.0, gt=0)
    topic_prefix: str = ""
    """Prefix of the audit topic's name (tests run on isolated, prefixed topics)."""
