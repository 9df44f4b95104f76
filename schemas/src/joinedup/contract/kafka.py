"""Thin kafka-python adapters shared by every joinedup process: admin (apply the topic catalog), and
producer / consumer factories with the project's defaults (idempotent, acks=all, read_committed)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from joinedup.contract.topics import TopicSpec


def admin_client(bootstrap: str, client_id: str = "joinedup-admin") -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id, request_timeout_ms=30_000)


def producer(bootstrap: str, client_id: str, **overrides: Any) -> KafkaProducer:
    """An idempotent producer that waits for every in-sync replica (acks=all)."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_in_flight_requests_per_connection": 5,
    }
    options.update(overrides)
    return KafkaProducer(**options)


def consumer(bootstrap: str, group_id: str | None, client_id: str, **overrides: Any) -> KafkaConsumer:
    """A consumer that sees only committed records and commits nothing by itself."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "group_id": group_id,
        "client_id": client_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return KafkaConsumer(**options)


@dataclass
class TopicReport:
    """What `apply_topics` found and did."""

    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drift: dict[str, list[str]] = field(default_factory=dict)
    altered: dict[str, list[str]] = field(default_factory=dict)
    """Existing topics whose safe-to-change settings (``ALTERED_IN_PLACE``) were set to the catalog's."""

    @property
    def ok(self) -> bool:
        return not self.drift


def _existing(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition counts of the topics that exist among `names`."""
    present = set(admin.list_topics())
    wanted = [n for n in names if n in present]
    if not wanted:
        return {}
    return {d["name"]: len(d["partitions"]) for d in admin.describe_topics(wanted)}


def _configs(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    """Effective config values (defaults included) of each topic."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    described = admin.describe_configs(resources, config_filter="all").get("topic", {})
    return {name: {k: str(v.get("value")) for k, v in entries.items()} for name, entries in described.items()}


ALTERED_IN_PLACE = frozenset({"message.timestamp.type"})
"""Settings `apply_topics` changes on an existing topic: changing them re-keys and deletes nothing."""


def apply_topics(
    admin: KafkaAdminClient, specs: Iterable[TopicSpec], replication_factor: int = 1
) -> TopicReport:
    """Create the missing topics; check the existing ones against the catalog. Idempotent.

    Drift (fewer or more partitions, another retention or cleanup policy) is reported, not "fixed":
    changing partitions re-keys data and shrinking retention deletes it, which is an operator's decision.
    The settings in ``ALTERED_IN_PLACE`` are set to the catalog's (an incremental alter of that key alone),
    because changing them loses nothing: a topic made before its timestamp type was in the catalog takes
    the broker's clock for the records appended from then on.
    """
    specs = list(specs)
    report = TopicReport()
    existing = _existing(admin, [s.name for s in specs])
    missing = [s for s in specs if s.name not in existing]
    if missing:
        new = {
            s.name: {
                "num_partitions": s.partitions,
                "replication_factor": replication_factor,
                "configs": s.config(),
            }
            for s in missing
        }
        try:
            admin.create_topics(new, wait_for_metadata=True)
            report.created.extend(s.name for s in missing)
        except TopicAlreadyExistsError:  # a concurrent apply won the race: check them like the rest
            existing = _existing(admin, [s.name for s in specs])
    configs = _configs(admin, [s.name for s in specs if s.name in existing])
    for spec in specs:
        if spec.name not in existing:
            continue
        problems: list[str] = []
        if existing[spec.name] != spec.partitions:
            problems.append(f"partitions {existing[spec.name]} (catalog says {spec.partitions})")
        actual = configs.get(spec.name, {})
        to_alter: dict[str, str] = {}
        for key, want in spec.config().items():
            if key in actual and actual[key] != want:
                if key in ALTERED_IN_PLACE:
                    to_alter[key] = want
                else:
                    problems.append(f"{key}={actual[key]} (catalog says {want})")
        if to_alter:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=to_alter)])
            report.altered[spec.name] = [f"{k}: {actual[k]} -> {v}" for k, v in sorted(to_alter.items())]
        if problems:
            report.drift[spec.name] = problems
        elif not to_alter:
            report.unchanged.append(spec.name)
    return report


def topic_offsets(bootstrap: str, topic: str) -> Mapping[int, int]:
    """End offset per partition (handy for tests and progress bars)."""
    from kafka import TopicPartition

    c = consumer(bootstrap, None, "joinedup-offsets")
    try:
        parts = c.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        return {tp.partition: off for tp, off in c.end_offsets(tps).items()}
    finally:
        c.close()
