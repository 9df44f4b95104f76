"""`joinedup identity export | explain | assert` without a broker (assert refuses bad references first)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import typer
from typer.testing import CliRunner

from joinedup.contract.outbox import ShardStore
from joinedup.contract.streams import ShardProcessor
from joinedup.projections.entrypoints.cli import register
from joinedup.projections.identity.stream_handler import IdentityStreamHandler
from joinedup.projections.identity.worker import READER, SOURCE, store_path

from .conftest import Feed


def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def fill(data_dir: Path, feed: Feed) -> None:
    shard = ShardStore(store_path(data_dir))
    processor = ShardProcessor(
        shard, IdentityStreamHandler(shard.connection), topic_names={}, group=READER, source=SOURCE
    )
    processor.process(feed.raw)
    shard.close()


def test_export_prints_every_record_with_its_person_as_csv(small_feed: Feed, tmp_path: Path) -> None:
    fill(tmp_path, small_feed)
    result = CliRunner().invoke(app(), ["identity", "export", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["agency", "local_person_id", "person_id"]
    assert {(a, b) for a, b, _ in rows[1:]} == {r.key for r in small_feed.population.stream()}


def test_explain_shows_the_person_and_links_by_reference_only(small_feed: Feed, tmp_path: Path) -> None:
    fill(tmp_path, small_feed)
    record = small_feed.population.stream()[0]
    result = CliRunner().invoke(
        app(), ["identity", "explain", record.agency, record.local_person_id, "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert record.local_person_id in result.stdout
    for value in (record.family_name, record.nhs_number, str(record.date_of_birth)):
        if value and value != "None":
            assert value not in result.stdout


def test_export_without_a_store_says_where_it_looked(tmp_path: Path) -> None:
    result = CliRunner().invoke(app(), ["identity", "export", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no identity store" in result.output


def test_an_assertion_about_an_unknown_agency_or_one_record_is_refused_before_publishing() -> None:
    base = ["identity", "assert", "--different", "--by", "dpo-3", "--reason", "checked"]
    unknown = CliRunner().invoke(app(), [*base, "nowhere/1", "police/2"])
    assert unknown.exit_code == 2
    assert "not a known agency" in unknown.output
    one = CliRunner().invoke(app(), [*base, "police/1", "police/1"])
    assert one.exit_code == 2
    assert "two different records" in one.output
