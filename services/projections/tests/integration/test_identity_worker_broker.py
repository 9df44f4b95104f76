"""The identity worker against a real broker: the partition it publishes is the resolver's, a "not the same
person" assertion splits a person, a replay from offset 0 is byte-identical, and kill -9 loses and doubles
nothing."""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from joinedup.contract.models.identity import PersonSplit
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import IDENTITY_EVENTS
from joinedup.local.synthetic import SyntheticPopulation, generate_population
from joinedup.projections.identity.explain import export_rows
from joinedup.projections.identity.records import RecordKey, RecordObserved, SourceRecord
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore
from joinedup.projections.identity.topic_membership import membership_from_topic
from joinedup.projections.identity.worker import store_path

from .conftest import T0, cli, publish_population, read_values, running_identity_worker

pytestmark = [pytest.mark.broker, pytest.mark.timeout(600)]

Groups = set[frozenset[tuple[str, str]]]


def groups_of(rows: list[tuple[str, str, str]]) -> Groups:
    persons: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for agency, local_id, person in rows:
        persons[person].add((agency, local_id))
    return {frozenset(members) for members in persons.values()}


def in_memory_groups(population: SyntheticPopulation) -> Groups:
    store = InMemoryIdentityStore()
    resolver = IdentityResolver(store)
    for n, record in enumerate(population.stream()):
        resolver.resolve(
            RecordObserved(
                record=SourceRecord(**record.model_dump()),
                source_event_id=f"event-{n}",
                observed_at=T0 + timedelta(seconds=n),
            )
        )
    return groups_of(export_rows(store))


def exported(data_dir: Path) -> list[tuple[str, str, str]]:
    text = cli(["identity", "export"], {"JOINEDUP_PROJECTIONS_DATA_DIR": str(data_dir)})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["agency", "local_person_id", "person_id"]
    return [(a, b, c) for a, b, c in rows[1:]]


def consumed(data_dir: Path) -> int:
    """How many inputs the worker's store has committed (0 before it made its tables)."""
    path = store_path(data_dir)
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT coalesce(sum(next_offset), 0) FROM consumed_offsets").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_the_worker_publishes_the_resolvers_partition_and_a_different_persons_assertion_splits_a_person(
    kafka_bootstrap: str, catalog_topics: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    population = generate_population(21, 120)
    publish_population(kafka_bootstrap, catalog_topics, population)
    with running_identity_worker(kafka_bootstrap, catalog_topics, tmp_path) as running:
        running.wait_caught_up()
    rows = exported(tmp_path)
    assert groups_of(rows) == in_memory_groups(population)
    membership = membership_from_topic(kafka_bootstrap, catalog_topics[IDENTITY_EVENTS])
    assert {(k.agency, k.local_person_id, p) for k, p in membership.partition().items()} == set(rows)

    person_of = {(a, b): p for a, b, p in rows}
    shared = sorted(g for g in groups_of(rows) if len(g) >= 2)[0]
    first, second = sorted(shared)[:2]
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": unique_prefix}
    out = cli(
        [
            "identity",
            "assert",
            "--different",
            "/".join(first),
            "/".join(second),
            "--by",
            "dpo-3",
            "--reason",
            "checked against the tenancy list",
        ],
        env,
    )
    assert out.startswith("published DifferentPersonsAsserted")
    with running_identity_worker(kafka_bootstrap, catalog_topics, tmp_path) as running:
        running.wait_caught_up()
    after = {(a, b): p for a, b, p in exported(tmp_path)}
    assert after[first] != after[second]
    assert person_of[first] == person_of[second]
    decoded = [
        default_codec().decode(v)
        for v in read_values(kafka_bootstrap, catalog_topics[IDENTITY_EVENTS], at_least=1)
    ]
    splits = [e for e in decoded if isinstance(e, PersonSplit)]
    assert [s.asserted_by for s in splits] == ["dpo-3"]
    explanation = cli(["identity", "explain", *first], {"JOINEDUP_PROJECTIONS_DATA_DIR": str(tmp_path)})
    assert '"kind": "different"' in explanation


def test_a_replay_from_offset_zero_into_a_fresh_store_publishes_byte_identical_identity_events(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    population = generate_population(22, 100)
    publish_population(kafka_bootstrap, catalog_topics, population, transaction_size=40)
    topic = catalog_topics[IDENTITY_EVENTS]
    with running_identity_worker(
        kafka_bootstrap, catalog_topics, tmp_path / "first", batch_size=50
    ) as running:
        running.wait_caught_up()
    first = read_values(kafka_bootstrap, topic, at_least=1)
    with running_identity_worker(
        kafka_bootstrap, catalog_topics, tmp_path / "replay", batch_size=7
    ) as running:
        running.wait_caught_up()
    both = read_values(kafka_bootstrap, topic, at_least=2 * len(first))
    assert len(first) > len(population.stream()) // 2
    assert both[len(first) :] == first


def test_a_worker_killed_mid_stream_and_restarted_publishes_exactly_the_events_of_an_uninterrupted_run(
    kafka_bootstrap: str, catalog_topics: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    population = generate_population(23, 300)
    publish_population(kafka_bootstrap, catalog_topics, population)
    topic = catalog_topics[IDENTITY_EVENTS]
    with running_identity_worker(kafka_bootstrap, catalog_topics, tmp_path / "clean") as running:
        running.wait_caught_up()
    clean = read_values(kafka_bootstrap, topic, at_least=1)

    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "JOINEDUP_PROJECTIONS_DATA_DIR": str(tmp_path / "killed"),
        "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": unique_prefix,
        "JOINEDUP_PROJECTIONS_BATCH_SIZE": "10",
    }
    total = len(population.stream())
    rng = random.Random(5)
    kills = 0
    progress: list[int] = []
    log = (tmp_path / "worker.log").open("wb")
    for target in (0.2, 0.5, 0.8):  # kill -9 once the store has committed this much of the input
        proc = subprocess.Popen(
            [sys.executable, "-m", "joinedup.projections.bootstrap"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and consumed(tmp_path / "killed") < target * total:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.2))  # anywhere in the next batches: mid-transaction, mid-relay...
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        progress.append(consumed(tmp_path / "killed"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "joinedup.projections.bootstrap"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        both = read_values(kafka_bootstrap, topic, at_least=2 * len(clean), timeout_s=240, settle_s=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert kills == 3
    assert all(0 < done < total for done in progress), progress  # killed mid-stream, not before or after
    assert len(both) == 2 * len(clean)
    assert both[len(clean) :] == clean
    assert {RecordKey(a, b) for a, b, _ in exported(tmp_path / "killed")} == {
        RecordKey(*r.key) for r in population.stream()
    }
