"""The session broker fixture and the topic catalog on a real broker."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from joinedup.contract.kafka import admin_client, apply_topics
from joinedup.contract.topics import catalog

pytestmark = pytest.mark.broker


def test_a_record_produced_to_the_real_broker_is_consumed_back(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    topic = unique_prefix + "roundtrip"
    admin = admin_client(kafka_bootstrap)
    admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    admin.close()
    payload = uuid.uuid4().bytes
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    producer.send(topic, key=b"k", value=payload).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=10_000
    )
    values = [r.value for r in consumer]
    consumer.close()
    assert values == [payload]


def test_applying_the_catalog_twice_creates_once_and_then_reports_everything_unchanged(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    specs = list(catalog().renamed(unique_prefix).values())
    admin = admin_client(kafka_bootstrap)
    try:
        first = apply_topics(admin, specs)
        second = apply_topics(admin, specs)
    finally:
        admin.close()
    assert sorted(first.created) == sorted(s.name for s in specs)
    assert second.created == []
    assert sorted(second.unchanged) == sorted(s.name for s in specs)
    assert second.ok


def test_a_topic_that_drifted_from_the_catalog_is_reported(kafka_bootstrap: str, unique_prefix: str) -> None:
    spec = catalog().renamed(unique_prefix)["joinedup.referral.events"]
    admin = admin_client(kafka_bootstrap)
    try:
        # Someone created it by hand with too few partitions and a 1-day retention.
        admin.create_topics(
            {
                spec.name: {
                    "num_partitions": 2,
                    "replication_factor": 1,
                    "configs": {"retention.ms": "86400000"},
                }
            },
            wait_for_metadata=True,
        )
        report = apply_topics(admin, [spec])
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs={"retention.ms": "-1"})]
        )
    finally:
        admin.close()
    assert not report.ok
    assert report.created == []
    problems = " ".join(report.drift[spec.name])
    assert "partitions 2 (catalog says 6)" in problems
    assert "retention.ms=86400000 (catalog says -1)" in problems
