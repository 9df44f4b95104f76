"""The person view worker's store file, as the worker writes it and as `joinedup projections hash` and the
query API read it (no broker: batches go straight through the worker's processor)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from joinedup.contract.envelope import to_kafka_timestamp
from joinedup.contract.models.event import Event
from joinedup.contract.models.referral import AssessmentScheduled
from joinedup.contract.serde import default_codec
from joinedup.contract.streams import RawRecord
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS
from joinedup.projections.bootstrap import person_view_hash, serve_all
from joinedup.projections.entrypoints.cli import register
from joinedup.projections.identity.worker import ROLE as IDENTITY_ROLE
from joinedup.projections.ordered_worker import OrderedWorkerConfig, WorkerRole
from joinedup.projections.person_view.canonical_hash import view_state_hash
from joinedup.projections.person_view.event_factory import (
    assessment,
    at,
    contact,
    person_created,
    person_record,
    record_linked,
)
from joinedup.projections.person_view.read_model import PersonSearch
from joinedup.projections.person_view.reader_sqlite import ReadOnlySqlitePersonViewReader
from joinedup.projections.person_view.worker import ROLE, PersonViewWorker, store_path
from joinedup.projections.settings import ApiSettings

NHS = "9434765919"


def raw(events: list[tuple[str, Event]]) -> list[RawRecord]:
    """The events as Kafka records, each topic's offsets counting from 0."""
    codec = default_codec()
    next_offset: dict[str, int] = {}
    records = []
    for topic, event in events:
        offset = next_offset.get(topic, 0)
        next_offset[topic] = offset + 1
        timestamp = to_kafka_timestamp(event.envelope.occurred_at)
        records.append(RawRecord(topic, 0, offset, timestamp, None, codec.encode(event)))
    return records


def one_person_with_a_repeat() -> list[tuple[str, Event]]:
    """Two agencies' records of one person; the second agency books an equivalent assessment."""
    police = person_record("PN-1", nhs_number=NHS, family_name="Example")
    asc = person_record("ASC-1", nhs_number=NHS, family_name="Example")
    return [
        (REFERRAL_EVENTS, contact("police", "C-1", "PN-1", when=at(1), subject=police)),
        (
            REFERRAL_EVENTS,
            assessment(
                AssessmentScheduled, "police", "A-1", "PN-1", "care-act-s9-needs", when=at(2), subject=police
            ),
        ),
        (
            REFERRAL_EVENTS,
            assessment(
                AssessmentScheduled, "council-asc", "A-2", "ASC-1", "care-act-carers", when=at(5), subject=asc
            ),
        ),
        (IDENTITY_EVENTS, person_created("P-1", "police", "PN-1", when=at(6))),
        (IDENTITY_EVENTS, record_linked("P-1", "council-asc", "ASC-1", to=("police", "PN-1"), when=at(6))),
    ]


def filled_worker(data_dir: Path) -> PersonViewWorker:
    worker = PersonViewWorker(OrderedWorkerConfig(bootstrap="unused:9092", data_dir=data_dir))
    worker.processor.process(raw(one_person_with_a_repeat()))
    return worker


def cli() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def test_the_worker_commits_view_offsets_and_one_alert_to_one_file(tmp_path: Path) -> None:
    worker = filled_worker(tmp_path)
    try:
        assert store_path(tmp_path) == tmp_path / "projections" / "person-view.sqlite"
        assert store_path(tmp_path).exists()
        rows = worker.store.unsent(1, 100)
        assert [row.publication.topic for row in rows] == [ALERTS]
        assert rows[0].publication.key == b"P-1"
        offsets = worker.store.next_offsets()
        assert offsets == {(REFERRAL_EVENTS, 0): 3, (IDENTITY_EVENTS, 0): 2}
    finally:
        worker.close()


def test_a_batch_delivered_again_raises_no_second_alert_and_keeps_the_hash(tmp_path: Path) -> None:
    worker = filled_worker(tmp_path)
    try:
        before = view_state_hash(worker.handler.store)
        result = worker.processor.process(raw(one_person_with_a_repeat()))
        assert result.stale
        assert result.published == 0
        assert len(worker.store.unsent(1, 100)) == 1
        assert view_state_hash(worker.handler.store) == before
    finally:
        worker.close()


def test_the_read_only_reader_sees_the_committed_view(tmp_path: Path) -> None:
    filled_worker(tmp_path).close()
    reader = ReadOnlySqlitePersonViewReader(store_path(tmp_path))
    try:
        view = reader.person("P-1")
        assert view is not None
        assert [(r.agency, r.local_person_id) for r in view.records] == [
            ("council-asc", "ASC-1"),
            ("police", "PN-1"),
        ]
        assert len(view.alerts) == 1
        assert reader.person_of_record("council-asc", "ASC-1") == "P-1"
        assert reader.find_persons(PersonSearch(nhs_number=NHS)) == ["P-1"]
        assert reader.find_views(PersonSearch(nhs_number=NHS)) == [view]
        assert reader.find_views(PersonSearch(family_name="Nobody-Of-That-Name")) == []
        assert reader.resolve_person_id("P-unknown") is None
    finally:
        reader.close()


def test_the_reader_cannot_write_to_the_worker_file(tmp_path: Path) -> None:
    filled_worker(tmp_path).close()
    reader = ReadOnlySqlitePersonViewReader(store_path(tmp_path))
    try:
        reader.person("P-1")
        store = reader._store()
        assert store is not None
        with pytest.raises(Exception, match="readonly"):
            store.db.execute("DELETE FROM pv_records")
    finally:
        reader.close()


def test_a_reader_before_the_worker_has_run_sees_nobody(tmp_path: Path) -> None:
    reader = ReadOnlySqlitePersonViewReader(store_path(tmp_path))
    assert reader.person("P-1") is None
    assert reader.find_persons(PersonSearch(nhs_number=NHS)) == []
    assert reader.person_of_record("police", "PN-1") is None
    assert not store_path(tmp_path).exists()


def test_projections_hash_prints_the_canonical_hash_of_the_stored_view(tmp_path: Path) -> None:
    worker = filled_worker(tmp_path)
    expected = view_state_hash(worker.handler.store)
    worker.close()
    result = CliRunner().invoke(cli(), ["projections", "hash", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == expected == person_view_hash(tmp_path)


def test_projections_hash_without_a_store_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["projections", "hash", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2


def test_run_offers_projections_and_api(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["run", "--help"])
    assert result.exit_code == 0
    assert "projections" in result.stdout
    assert "api" in result.stdout


def test_the_two_workers_have_distinct_kafka_names() -> None:
    assert ROLE.transactional_id != IDENTITY_ROLE.transactional_id
    assert ROLE.relay_group != IDENTITY_ROLE.relay_group
    assert ROLE.inputs == (REFERRAL_EVENTS, IDENTITY_EVENTS)


def test_api_settings_default_to_localhost_8080_and_read_joinedup_api_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (ApiSettings().host, ApiSettings().port) == ("127.0.0.1", 8080)
    monkeypatch.setenv("JOINEDUP_API_PORT", "9090")
    monkeypatch.setenv("JOINEDUP_API_CONSENT_TOKEN", "s3cret")
    settings = ApiSettings()
    assert settings.port == 9090
    assert settings.consent_token is not None
    assert settings.consent_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


class _Stub:
    def __init__(self, name: str, fail: bool) -> None:
        self.role = WorkerRole(name, (), name, name, name, name, name)
        self.fail = fail
        self.stopped = False

    async def run(self, stop: asyncio.Event | None = None) -> None:
        assert stop is not None
        if self.fail:
            raise RuntimeError("broken")
        await stop.wait()
        self.stopped = True


def test_one_failing_worker_stops_the_other_and_its_error_is_raised() -> None:
    healthy, broken = _Stub("healthy", fail=False), _Stub("broken", fail=True)
    with pytest.raises(RuntimeError, match="broken"):
        asyncio.run(asyncio.wait_for(serve_all([healthy, broken]), timeout=5))
    assert healthy.stopped


def test_setting_stop_ends_every_worker() -> None:
    first, second = _Stub("first", fail=False), _Stub("second", fail=False)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(serve_all([first, second], stop))
        await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    assert first.stopped
    assert second.stopped


def test_the_reader_sees_an_empty_view_while_the_worker_has_created_the_file_but_not_its_tables(
    tmp_path: Path,
) -> None:
    from joinedup.projections.person_view.read_model import PersonSearch
    from joinedup.projections.person_view.reader_sqlite import ReadOnlySqlitePersonViewReader

    path = tmp_path / "person-view.sqlite"
    sqlite3.connect(path).close()  # the file exists, no table yet
    reader = ReadOnlySqlitePersonViewReader(path)
    try:
        assert reader.person_of_record("police", "PN-1") is None
        assert reader.find_persons(PersonSearch(family_name="Example")) == []
    finally:
        reader.close()
