"""Schema evolution: `joinedup schemas check` passes on this tree, fails on a planted incompatible change
(against git history and against kept versions), and data written with v1 reads under v2."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
from fastavro import schemaless_reader, schemaless_writer
from typer.testing import CliRunner

from joinedup.contract.cli import register
from joinedup.contract.evolution import check, freeze
from joinedup.contract.examples import example
from joinedup.contract.models.intake import ContactRecord
from joinedup.contract.paths import schemas_root
from joinedup.contract.serde import HEADER_SIZE, MAGIC, Codec, default_codec

SUBMISSION = "intake/joinedup.intake.ReferralSubmission.avsc"


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway git repository holding a copy of the project's schemas folder, committed once."""
    root = tmp_path / "repo"
    shutil.copytree(
        schemas_root(), root / "schemas", ignore=shutil.ignore_patterns("src", "tests", "*.toml", "README.md")
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "schemas v1")
    return root / "schemas"


def edit(root: Path, relative: str, change: Any) -> None:
    path = root / relative
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_schemas_check_passes_on_this_tree_against_git_history() -> None:
    report = check()
    assert report.findings == []
    assert report.compared >= 1  # ContactRecord v1 at least


def test_the_schemas_check_command_passes_on_this_tree() -> None:
    result = CliRunner().invoke(cli(), ["schemas", "check"])
    assert result.exit_code == 0, result.output
    assert "schemas ok" in result.output


def test_an_unchanged_copy_in_git_passes(repo: Path) -> None:
    report = check(repo)
    assert report.findings == []
    assert report.notes == []


def test_a_changed_field_type_fails_against_git_history_naming_record_and_field(repo: Path) -> None:
    edit(repo, SUBMISSION, lambda s: field(s, "urgency").update(type="int"))
    problems = [str(f) for f in check(repo).findings]
    assert any(
        p.startswith("joinedup.intake.ReferralSubmission: cannot read data written by git ")
        and "(backward): field urgency: type mismatch" in p
        for p in problems
    ), problems
    assert any("readers cannot read new data (forward): field urgency" in p for p in problems), problems


def test_the_check_command_fails_with_a_clear_message_on_a_planted_change(repo: Path) -> None:
    edit(repo, SUBMISSION, lambda s: s["fields"].append({"name": "risk_level", "type": "string", "doc": "x"}))
    result = CliRunner().invoke(cli(), ["schemas", "check", "--root", str(repo)])
    assert result.exit_code == 1
    assert "joinedup.intake.ReferralSubmission" in result.output
    assert "field risk_level" in result.output
    assert "reader field missing default value" in result.output


def test_a_new_field_with_a_default_is_compatible_once_the_old_version_is_kept(repo: Path) -> None:
    edit(
        repo,
        SUBMISSION,
        lambda s: s["fields"].append(
            {"name": "risk_level", "type": ["null", "string"], "default": None, "doc": "x"}
        ),
    )
    (problem,) = check(repo).findings
    assert "is not kept" in problem.message
    assert "joinedup schemas freeze" in problem.message
    written = freeze(repo)
    assert [p.name for p in written] == ["joinedup.intake.ReferralSubmission.v1.avsc"]
    assert check(repo).findings == []


def test_a_change_to_a_shared_record_is_checked_in_every_record_that_embeds_it(repo: Path) -> None:
    edit(
        repo,
        "common/joinedup.common.PersonRecord.avsc",
        lambda s: field(s, "date_of_birth").update(type=["null", "string"]),
    )
    problems = {f.record for f in check(repo).findings}
    assert {
        "joinedup.common.PersonRecord",
        "joinedup.intake.ReferralSubmission",
        "joinedup.referral.ContactRecorded",
    } <= problems


def test_a_change_incompatible_with_a_kept_version_fails_without_git(repo: Path) -> None:
    edit(
        repo,
        "intake/joinedup.intake.ContactRecord.avsc",
        lambda s: field(s, "contact_type").update(type="long"),
    )
    problems = [str(f) for f in check(repo, use_git=False).findings]
    assert any("history v1 (backward): field contact_type: type mismatch" in p for p in problems), problems


def test_a_deleted_kept_version_is_caught_from_git_history(repo: Path) -> None:
    (repo / "intake" / "history" / "joinedup.intake.ContactRecord.v1.avsc").unlink()
    (problem,) = check(repo).findings
    assert problem.record == "joinedup.intake.ContactRecord"
    assert "is not kept" in problem.message


# ----------------------------------------------------------------------------------------- v1 data, v2 reader
def _written_with_v1(codec: Codec) -> bytes:
    v1 = codec.contract.for_model(ContactRecord).versions[0]
    data = example(ContactRecord).model_dump(exclude={"duration_minutes"})
    data["envelope"]["schema_fingerprint"] = v1.fingerprint_hex
    buffer = io.BytesIO()
    buffer.write(MAGIC + v1.fingerprint)
    schemaless_writer(buffer, v1.parsed, data)
    return buffer.getvalue()


def test_contact_record_has_a_kept_v1_and_a_current_v2() -> None:
    versions = default_codec().contract.for_model(ContactRecord).versions
    assert [v.version for v in versions] == [1, 2]
    v1_fields = [f["name"] for f in versions[0].schema["fields"]]
    assert "duration_minutes" not in v1_fields
    assert [f["name"] for f in versions[1].schema["fields"]] == [*v1_fields, "duration_minutes"]


def test_v1_data_reads_under_v2_with_the_new_field_defaulted() -> None:
    codec = default_codec()
    decoded = codec.decode_as(_written_with_v1(codec), ContactRecord)
    assert decoded.duration_minutes is None
    assert decoded.contact_ref == example(ContactRecord).contact_ref
    assert (
        decoded.envelope.schema_fingerprint
        == codec.contract.for_model(ContactRecord).versions[0].fingerprint_hex
    )


def test_v2_data_reads_under_a_v1_reader() -> None:
    codec = default_codec()
    record = codec.contract.for_model(ContactRecord)
    payload = codec.encode(example(ContactRecord))
    old_reader = record.versions[0].parsed
    data = schemaless_reader(io.BytesIO(payload[HEADER_SIZE:]), record.current.parsed, old_reader)
    assert isinstance(data, dict)
    assert "duration_minutes" not in data
    assert data["contact_ref"] == example(ContactRecord).contact_ref
