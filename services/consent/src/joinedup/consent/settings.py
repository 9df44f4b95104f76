"""The consent service's settings: environment variables ``JOINEDUP_CONSENT_<FIELD>`` (and
``KAFKA_BOOTSTRAP_SERVERS`` through :class:`joinedup.contract.settings.KafkaSettings`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE = "consent"
DEFAULT_API_URL = "http://127.0.0.1:8081"


class ConsentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOINEDUP_CONSENT_", extra="ignore")

    data_dir: Path = Path(".joinedup/data")
    """Intake shard stores go to ``<data_dir>/consent/shard-<i>.sqlite``, the decision state to
    ``<data_dir>/consent/decision-state.sqlite``."""
    topic_prefix: str = ""
    """Prefix of every topic name (tests run on isolated, prefixed topics)."""
    batch_size: int = Field(default=1000, gt=0)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8081, gt=0, lt=65536)
    tokens_file: Path | None = None
    """YAML: ``tokens: {<token>: {agency, user, role}}``. Without it the API refuses every request but
    ``/healthz``."""
    max_questions: int = Field(default=1000, gt=0)
    """The most questions one ``POST /v1/decisions`` may ask."""

    # what the CLI uses to reach a running service
    api_url: str = DEFAULT_API_URL
    token: SecretStr | None = None
    """The bearer token the CLI sends (a DPO's, for agreements and trails)."""
