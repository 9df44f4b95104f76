"""The lint half of `joinedup schemas check`: naming, namespaces, docs, no enums, no arrays of null."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from joinedup.contract.evolution import check, compatibility_problems, lint
from joinedup.contract.paths import schemas_root
from joinedup.contract.schemas import SchemaTree


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """A copy of the project's schemas folder (no git), safe to break."""
    target = tmp_path / "schemas"
    shutil.copytree(
        schemas_root(), target, ignore=shutil.ignore_patterns("src", "tests", "*.toml", "README.md")
    )
    return target


def edit(root: Path, relative: str, change: Any) -> None:
    path = root / relative
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))


def messages(root: Path) -> list[str]:
    return [str(f) for f in check(root, use_git=False).findings]


RECORD_REF = "common/joinedup.common.RecordRef.avsc"


def test_the_projects_schemas_pass_the_lint() -> None:
    tree = SchemaTree.from_directory()
    assert lint(tree) == []


def test_a_copy_of_the_projects_schemas_passes_the_whole_check(tree_copy: Path) -> None:
    assert messages(tree_copy) == []


def test_a_file_not_named_by_its_full_name_is_reported(tree_copy: Path) -> None:
    (tree_copy / RECORD_REF).rename(tree_copy / "common" / "RecordRef.avsc")
    assert any("must be named joinedup.common.RecordRef.avsc" in m for m in messages(tree_copy))


def test_a_missing_namespace_is_reported(tree_copy: Path) -> None:
    edit(tree_copy, RECORD_REF, lambda s: s.pop("namespace"))
    assert any("namespace must be explicit" in m for m in messages(tree_copy))


def test_a_namespace_that_does_not_match_the_folder_is_reported(tree_copy: Path) -> None:
    shutil.move(tree_copy / RECORD_REF, tree_copy / "intake" / "joinedup.common.RecordRef.avsc")
    assert any("must be joinedup.intake (the folder it lives in)" in m for m in messages(tree_copy))


def test_a_field_without_a_doc_is_reported_by_name(tree_copy: Path) -> None:
    edit(tree_copy, RECORD_REF, lambda s: s["fields"][1].pop("doc"))
    assert "joinedup.common.RecordRef: field local_person_id needs a doc" in messages(tree_copy)


def test_an_avro_enum_is_reported(tree_copy: Path) -> None:
    def to_enum(schema: dict[str, Any]) -> None:
        schema["fields"][0]["type"] = {"type": "enum", "name": "Agency", "symbols": ["police"]}

    edit(tree_copy, RECORD_REF, to_enum)
    assert any("Avro enums are not allowed" in m for m in messages(tree_copy))


def test_an_array_of_null_is_reported(tree_copy: Path) -> None:
    def add_array(schema: dict[str, Any]) -> None:
        schema["fields"].append(
            {"name": "xs", "type": {"type": "array", "items": ["null", "string"]}, "doc": "x", "default": []}
        )

    edit(tree_copy, RECORD_REF, add_array)
    assert any("field xs: arrays of null are not allowed" in m for m in messages(tree_copy))


def test_an_inline_record_is_reported(tree_copy: Path) -> None:
    def inline(schema: dict[str, Any]) -> None:
        schema["fields"][0]["type"] = {"type": "record", "name": "Inner", "fields": []}

    edit(tree_copy, RECORD_REF, inline)
    assert any("inline record Inner" in m for m in messages(tree_copy))


def test_an_unknown_vocabulary_is_reported(tree_copy: Path) -> None:
    edit(tree_copy, RECORD_REF, lambda s: s["fields"][0].update(vocabulary="agencys"))
    assert any("vocabulary 'agencys' is not one of" in m for m in messages(tree_copy))


def test_a_reference_to_a_missing_record_is_reported(tree_copy: Path) -> None:
    (tree_copy / "common" / "joinedup.common.ReferralLink.avsc").unlink()
    assert any("cannot resolve joinedup.intake.AssessmentRecord" in m for m in messages(tree_copy))


def test_a_record_named_in_the_topic_catalog_must_exist(tree_copy: Path) -> None:
    (tree_copy / "alerts" / "joinedup.alerts.RepeatAssessmentDetected.avsc").unlink()
    assert (
        "joinedup.alerts.RepeatAssessmentDetected: is named in topics.yaml but has no schema file"
        in messages(tree_copy)
    )


def test_a_record_on_a_topic_must_start_with_the_envelope(tree_copy: Path) -> None:
    edit(tree_copy, "alerts/joinedup.alerts.RepeatAssessmentDetected.avsc", lambda s: s["fields"].reverse())
    assert any("must have 'envelope' as its first field" in m for m in messages(tree_copy))


def test_kept_versions_must_be_numbered_without_gaps(tree_copy: Path) -> None:
    history = tree_copy / "intake" / "history"
    (history / "joinedup.intake.ContactRecord.v1.avsc").rename(
        history / "joinedup.intake.ContactRecord.v2.avsc"
    )
    assert any("numbered 1..N without gaps" in m for m in messages(tree_copy))


def test_a_kept_version_identical_to_the_current_one_is_reported(tree_copy: Path) -> None:
    tree = SchemaTree.from_directory(tree_copy)
    kept = tree_copy / "common" / "history" / "joinedup.common.RecordRef.v1.avsc"
    kept.parent.mkdir()
    kept.write_text(json.dumps(tree.expanded("joinedup.common.RecordRef")))
    assert any("same writer schema" in m for m in messages(tree_copy))


def test_a_removed_field_without_default_breaks_forward_compatibility_and_names_the_field() -> None:
    old = {
        "type": "record",
        "name": "joinedup.t.R",
        "fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}],
    }
    new = {"type": "record", "name": "joinedup.t.R", "fields": [{"name": "a", "type": "string"}]}
    assert compatibility_problems(reader=new, writer=old) == []
    (problem,) = compatibility_problems(reader=old, writer=new)
    assert problem.startswith("field b:")
    assert "reader field missing default value" in problem


def test_a_type_change_inside_a_nested_record_names_the_nested_field() -> None:
    inner_old = {"type": "record", "name": "joinedup.t.Inner", "fields": [{"name": "n", "type": "string"}]}
    inner_new = {"type": "record", "name": "joinedup.t.Inner", "fields": [{"name": "n", "type": "int"}]}
    old = {
        "type": "record",
        "name": "joinedup.t.R",
        "fields": [{"name": "inner", "type": ["null", inner_old]}],
    }
    new = {
        "type": "record",
        "name": "joinedup.t.R",
        "fields": [{"name": "inner", "type": ["null", inner_new]}],
    }
    (problem,) = compatibility_problems(reader=new, writer=old)
    assert problem.startswith("field inner")
