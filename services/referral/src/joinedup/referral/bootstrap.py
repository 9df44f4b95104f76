"""The one place that knows the referral service's concrete adapters: settings, the shard handler over the
SQLite store, and the stream runtime that runs it."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from joinedup.contract.settings import KafkaSettings
from joinedup.contract.streams import HandlerFactory, RuntimeConfig, StreamRuntime, topic_mapping
from joinedup.contract.topics import catalog, intake_topics
from joinedup.referral.adapters.intake_stream import IntakeShardHandler
from joinedup.referral.adapters.store_sqlite import SqliteReferralStore
from joinedup.referral.app.reference import default_reference_data
from joinedup.referral.domain.reference import ReferenceData

SERVICE = "referral"
PURPOSE = "intake"


class ReferralSettings(BaseSettings):
    """``JOINEDUP_REFERRAL_<FIELD>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="JOINEDUP_REFERRAL_", extra="ignore")

    data_dir: Path = Path(".joinedup/data")
    """Shard stores go to ``<data_dir>/referral/shard-<i>.sqlite``."""
    group_purpose: str = PURPOSE
    """The consumer group is ``joinedup.referral.<group_purpose>``."""
    batch_size: int = Field(default=1000, gt=0)
    topic_prefix: str = ""
    """Prefixed to every catalog topic name (isolated test or demo topics)."""
    session_timeout_ms: int = Field(default=10_000, ge=6_000)
    durable: bool = False
    """SQLite ``synchronous=FULL``: survive a power loss too, not only a process kill."""


def handler_factory(reference: ReferenceData | None = None) -> HandlerFactory:
    """Builds each shard's handler over the shard's connection."""
    data = reference or default_reference_data()

    def build(connection: sqlite3.Connection, shard: int) -> IntakeShardHandler:
        del shard
        return IntakeShardHandler(SqliteReferralStore(connection), data)

    return build


def runtime_config(
    settings: ReferralSettings | None = None,
    kafka: KafkaSettings | None = None,
    topic_names: Mapping[str, str] | None = None,
) -> RuntimeConfig:
    settings = settings or ReferralSettings()
    kafka = kafka or KafkaSettings()
    names = (
        topic_names if topic_names is not None else topic_mapping(settings.topic_prefix, catalog().names())
    )
    return RuntimeConfig(
        service=SERVICE,
        purpose=settings.group_purpose,
        inputs=intake_topics(),
        bootstrap=kafka.bootstrap_servers,
        data_dir=settings.data_dir,
        topic_names=dict(names),
        max_batch=settings.batch_size,
        session_timeout_ms=settings.session_timeout_ms,
        durable=settings.durable,
        client_id=kafka.client_id_prefix,
        namespace=settings.topic_prefix,
    )


def build_runtime(
    settings: ReferralSettings | None = None,
    kafka: KafkaSettings | None = None,
    topic_names: Mapping[str, str] | None = None,
) -> StreamRuntime:
    """The referral worker: the stream runtime over the intake topics with this service's handler."""
    return StreamRuntime(runtime_config(settings, kafka, topic_names), handler_factory())
