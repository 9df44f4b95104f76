"""Broker-free tools for the identity stream tests: a synthetic feed encoded like the referral topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.models.event import Event
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import RawRecord
from joinedup.contract.topics import REFERRAL_EVENTS
from joinedup.local.synthetic import SyntheticPopulation, generate_population
from joinedup.projections.identity.canonical_feed import canonical_event

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Feed:
    population: SyntheticPopulation
    events: list[Event]
    raw: list[RawRecord]


def feed_of(population: SyntheticPopulation, partitions: int = 3) -> Feed:
    """Every observation as a canonical event on ``joinedup.referral.events`` (one minute apart), spread
    over ``partitions`` partitions by record."""
    events: list[Event] = []
    raw: list[RawRecord] = []
    offsets = [0] * partitions
    for n, record in enumerate(population.stream()):
        at = T0 + timedelta(minutes=n)
        event = canonical_event(record.agency, record.person_record(), n, at)
        partition = sum(record.local_person_id.encode()) % partitions
        key = f"{record.agency}/{record.local_person_id}".encode()
        raw.append(
            RawRecord(
                REFERRAL_EVENTS,
                partition,
                offsets[partition],
                to_kafka_timestamp(at),
                key,
                default_codec().encode(event),
            )
        )
        offsets[partition] += 1
        events.append(event)
    return Feed(population, events, raw)


@pytest.fixture(scope="session")
def small_feed() -> Feed:
    return feed_of(generate_population(7, 60))
