"""An ordered worker's Kafka names: workers on differently prefixed topics of one cluster never fence each
other's relay."""

from __future__ import annotations

from pathlib import Path

from joinedup.contract.topics import IDENTITY_EVENTS, REFERRAL_EVENTS
from joinedup.projections.ordered_worker import OrderedWorkerConfig


def config(names: dict[str, str]) -> OrderedWorkerConfig:
    return OrderedWorkerConfig(bootstrap="127.0.0.1:9", data_dir=Path("unused"), topic_names=names)


def test_the_relays_namespace_is_the_prefix_of_the_real_topic_names() -> None:
    names = {REFERRAL_EVENTS: "t1a2b." + REFERRAL_EVENTS, IDENTITY_EVENTS: "t1a2b." + IDENTITY_EVENTS}
    assert config(names).namespace == "t1a2b."
    assert config({}).namespace == ""
    assert config({REFERRAL_EVENTS: REFERRAL_EVENTS}).namespace == ""


def test_two_prefixes_give_two_namespaces() -> None:
    first = config({IDENTITY_EVENTS: "a." + IDENTITY_EVENTS})
    second = config({IDENTITY_EVENTS: "b." + IDENTITY_EVENTS})
    assert first.namespace != second.namespace
