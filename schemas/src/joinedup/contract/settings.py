"""Settings shared by every joinedup process: where Kafka is. Each service adds its own settings class
with the ``JOINEDUP_<SERVICE>_`` prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


class KafkaSettings(BaseSettings):
    """``KAFKA_BOOTSTRAP_SERVERS`` (comma separated host:port), defaulting to the local broker."""

    model_config = SettingsConfigDict(extra="ignore")

    bootstrap_servers: str = Field(default=DEFAULT_BOOTSTRAP, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    client_id_prefix: str = Field(default="joinedup", validation_alias="JOINEDUP_CLIENT_ID_PREFIX")
