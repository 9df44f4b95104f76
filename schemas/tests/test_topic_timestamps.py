"""Whose clock a topic's timestamps are, as the catalog declares it: the broker's for the intake topics (the
order services merge their inputs in, and recorded_at), the producer's elsewhere."""

from __future__ import annotations

from joinedup.contract.topics import INTAKE_PREFIX, catalog


def test_every_intake_topic_takes_the_brokers_clock_and_every_other_topic_the_producers() -> None:
    for spec in catalog().topics:
        wanted = "LogAppendTime" if spec.name.startswith(INTAKE_PREFIX) else "CreateTime"
        assert spec.config()["message.timestamp.type"] == wanted, spec.name


def test_a_copy_of_an_intake_topic_can_keep_the_producers_timestamps() -> None:
    spec = catalog()[INTAKE_PREFIX + "police"]
    copy = spec.model_copy(update={"timestamps": "producer"})
    assert copy.config()["message.timestamp.type"] == "CreateTime"
