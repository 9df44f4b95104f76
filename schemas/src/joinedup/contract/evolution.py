"""Schema lint and evolution checks: what ``joinedup schemas check`` runs (and ``make test`` through it).

* Lint: the file name is the record's full name, the namespace is explicit and matches the folder, every field
  has a doc, no inline named types in current files (one record per file), no Avro enums (codes are
  vocabulary strings), no array of null, ``vocabulary`` attributes name a real vocabulary, kept versions are
  self-contained and numbered 1..N, every record a topic carries exists and has the envelope first.
* Compatibility: every record's current schema against each previous version - those kept in
  ``<context>/history/`` and every distinct version in git history - with avro's
  ``ReaderWriterCompatibilityChecker``, both backward (the current schema reads old data) and forward (old
  readers read new data).
* Keeping: every version that ever reached git history must be kept in the repository, or the decoder could
  not read data written with it. ``joinedup schemas freeze`` writes the missing ones.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from joinedup.contract.errors import SchemaError
from joinedup.contract.paths import schemas_root
from joinedup.contract.schemas import HISTORY_DIR, JsonSchema, SchemaTree, fingerprint_of
from joinedup.contract.topics import TopicCatalog
from joinedup.contract.vocabularies import Vocabularies

VOCABULARY_NAMES = frozenset(Vocabularies.model_fields)
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


@dataclass(frozen=True)
class Finding:
    """One problem found by the check. ``record`` is a full name (or a path for file-level problems)."""

    record: str
    message: str

    def __str__(self) -> str:
        return f"{self.record}: {self.message}"


@dataclass(frozen=True)
class PastVersion:
    """A previous version of a record: kept in history/ (``origin`` 'history v2') or from git ('git 1a2b')."""

    full_name: str
    origin: str
    schema: JsonSchema = field(repr=False)
    fingerprint: bytes


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    compared: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings


# ---------------------------------------------------------------------------------------------------- lint
def lint(tree: SchemaTree, catalog: TopicCatalog | None = None) -> list[Finding]:
    """Every lint rule over one tree (and the catalog's value records, when a catalog is given)."""
    findings: list[Finding] = []
    for item in tree.files:
        if item.version is None:
            findings.extend(_lint_current(item.path, item.raw, item.full_name))
    for name, versions in sorted(tree.history.items()):
        findings.extend(_lint_history(tree, name, versions))
    for name in sorted(tree.current):
        try:
            tree.expanded(name)
        except SchemaError as exc:
            findings.append(Finding(name, str(exc)))
    if catalog is not None:
        findings.extend(_lint_catalog(tree, catalog))
    return findings


def _lint_current(path: str, raw: JsonSchema, full_name: str) -> list[Finding]:
    out: list[Finding] = []
    context, file_name = path.split("/")
    where = full_name or path

    def problem(message: str) -> None:
        out.append(Finding(where, message))

    if raw.get("type") != "record":
        problem("a schema file must hold exactly one record")
    if not raw.get("namespace"):
        problem("the namespace must be explicit (a 'namespace' attribute)")
    elif raw["namespace"] != f"joinedup.{context}":
        problem(f"namespace {raw['namespace']} must be joinedup.{context} (the folder it lives in)")
    if "." in str(raw.get("name", "")):
        problem("the name must be the short name; the namespace carries the rest")
    if file_name != f"{full_name}.avsc":
        problem(f"file {path} must be named {full_name}.avsc")
    if not str(raw.get("doc", "")).strip():
        problem("the record needs a doc")
    fields = raw.get("fields")
    if not isinstance(fields, list) or not fields:
        problem("the record needs at least one field")
        return out
    for spec in fields:
        name = spec.get("name", "?")
        if not str(spec.get("doc", "")).strip():
            problem(f"field {name} needs a doc")
        for message in _type_problems(spec.get("type"), inline_ok=False):
            problem(f"field {name}: {message}")
        vocabulary = spec.get("vocabulary")
        if vocabulary is not None and vocabulary not in VOCABULARY_NAMES:
            problem(f"field {name}: vocabulary {vocabulary!r} is not one of {sorted(VOCABULARY_NAMES)}")
        allowed = spec.get("allowed")
        if allowed is not None and not (
            isinstance(allowed, list) and all(isinstance(a, str) for a in allowed)
        ):
            problem(f"field {name}: 'allowed' must be a list of strings")
    return out


def _type_problems(schema: Any, inline_ok: bool) -> list[str]:
    """Enums, inline named types (in current files) and arrays of null, anywhere inside a field type."""
    if isinstance(schema, list):
        return [p for branch in schema for p in _type_problems(branch, inline_ok)]
    if not isinstance(schema, dict):
        return []
    kind = schema.get("type")
    if kind == "enum":
        return ["Avro enums are not allowed: use a string validated against a vocabulary"]
    if kind in ("record", "error", "fixed") and not inline_ok:
        return [f"inline {kind} {schema.get('name')}: define it in its own file and refer to it by full name"]
    if kind == "array":
        items = schema.get("items")
        if items == "null" or (isinstance(items, list) and "null" in items):
            return ["arrays of null are not allowed"]
        return _type_problems(items, inline_ok)
    if kind == "map":
        return _type_problems(schema.get("values"), inline_ok)
    if kind in ("record", "error"):
        return [p for f in schema.get("fields", []) for p in _type_problems(f.get("type"), inline_ok)]
    return []


def _lint_history(tree: SchemaTree, name: str, versions: list[Any]) -> list[Finding]:
    out: list[Finding] = []
    numbers = [v.version for v in versions]
    if numbers != list(range(1, len(numbers) + 1)):
        out.append(Finding(name, f"kept versions must be numbered 1..N without gaps, found {numbers}"))
    if name not in tree.current:
        out.append(Finding(name, "has kept versions but no current schema file"))
    seen: dict[bytes, str] = {}
    for item in versions:
        context = item.path.split("/")[0]
        if not item.full_name.startswith(f"joinedup.{context}."):
            out.append(Finding(item.path, f"kept version of {item.full_name} is in the wrong folder"))
        if item.full_name != name:
            out.append(Finding(item.path, f"file name does not match the record it holds ({item.full_name})"))
        for message in _type_problems(item.raw, inline_ok=True):
            out.append(Finding(item.path, message))
        try:
            fingerprint = fingerprint_of(item.raw)
        except Exception as exc:
            out.append(Finding(item.path, f"a kept version must be self-contained and valid: {exc}"))
            continue
        if fingerprint in seen:
            out.append(Finding(item.path, f"is the same writer schema as {seen[fingerprint]}"))
        seen[fingerprint] = item.path
    if name in tree.current and versions:
        try:
            current = fingerprint_of(tree.expanded(name))
        except SchemaError:
            return out
        if current in seen:
            out.append(Finding(name, f"the current schema is the same writer schema as {seen[current]}"))
    return out


def _lint_catalog(tree: SchemaTree, catalog: TopicCatalog) -> list[Finding]:
    out: list[Finding] = []
    carried = sorted({value for spec in catalog.templates for value in spec.values})
    for name in carried:
        found = tree.current.get(name)
        if found is None:
            out.append(Finding(name, "is named in topics.yaml but has no schema file"))
            continue
        first = (found.raw.get("fields") or [{}])[0]
        if first.get("name") != "envelope" or first.get("type") != "joinedup.common.Envelope":
            out.append(Finding(name, "a record carried on a topic must have 'envelope' as its first field"))
    return out


# ------------------------------------------------------------------------------------------- compatibility
def compatibility_problems(reader: JsonSchema, writer: JsonSchema) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer`` (empty when it can), naming the fields."""
    parsed_reader = avro.schema.parse(json.dumps(reader))
    parsed_writer = avro.schema.parse(json.dumps(writer))
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(parsed_reader, parsed_writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    locations = sorted(loc for loc in result.locations if loc != "/") or ["/"]
    fields = ", ".join(dict.fromkeys(_field_path(reader, loc) for loc in locations))
    kinds = "; ".join(sorted({kind.value.replace("_", " ") for kind in result.incompatibilities}))
    return [f"field {fields}: {kinds} ({'; '.join(sorted(result.messages))})"]


def _field_path(schema: JsonSchema, location: str) -> str:
    """Turn a checker location like ``/fields/2/type/fields/1/type`` into ``subject.nhs_number``."""
    named = _named_types(schema)
    node: Any = schema
    parts: list[str] = []
    tokens = [t for t in location.split("/") if t]
    i = 0
    while i < len(tokens):
        if isinstance(node, str) and node in named:
            node = named[node]
        step = tokens[i]
        if step == "fields" and i + 1 < len(tokens) and isinstance(node, dict):
            index = int(tokens[i + 1])
            fields = node.get("fields", [])
            if index >= len(fields):
                break
            node = fields[index]
            parts.append(str(node.get("name")))
            i += 2
            continue
        if step == "type" and isinstance(node, dict):
            node = node.get("type")
        elif step.isdigit() and isinstance(node, list):
            node = node[int(step)] if int(step) < len(node) else node
        elif step in ("items", "values") and isinstance(node, dict):
            node = node.get(step)
            if parts:
                parts[-1] += "[]"
        else:
            break
        i += 1
    return ".".join(parts) or "(the record itself)"


def _named_types(schema: Any, out: dict[str, Any] | None = None, namespace: str = "") -> dict[str, Any]:
    out = {} if out is None else out
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, out, namespace)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "error", "enum", "fixed"):
            name = str(schema.get("name"))
            ns = schema.get("namespace", namespace)
            full = name if "." in name or not ns else f"{ns}.{name}"
            out[full] = schema
            inner = full.rsplit(".", 1)[0] if "." in full else ""
            for spec in schema.get("fields", []):
                _named_types(spec.get("type"), out, inner)
        elif kind == "array":
            _named_types(schema.get("items"), out, namespace)
        elif kind == "map":
            _named_types(schema.get("values"), out, namespace)
    return out


def compare(current: JsonSchema, past: PastVersion) -> list[Finding]:
    """Backward and forward compatibility of the current schema with one past version."""
    out = []
    for problem in compatibility_problems(reader=current, writer=past.schema):
        out.append(
            Finding(past.full_name, f"cannot read data written by {past.origin} (backward): {problem}")
        )
    for problem in compatibility_problems(reader=past.schema, writer=current):
        out.append(
            Finding(past.full_name, f"{past.origin} readers cannot read new data (forward): {problem}")
        )
    return out


# ----------------------------------------------------------------------------------------------- git history
def git_past_versions(root: Path) -> tuple[dict[str, list[PastVersion]], list[str]]:
    """Every distinct version of every record in the git history of ``root`` (the schemas folder),
    oldest first, plus notes (no git, unreadable commits)."""
    notes: list[str] = []
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return {}, ["not a git checkout: compared with kept versions only"]
    top_dir = Path(top.strip()).resolve()
    rel = root.resolve().relative_to(top_dir).as_posix()
    log = _git(top_dir, "log", "--format=%H", "--", rel) or ""
    commits = list(reversed(log.split()))
    if not commits:
        return {}, ["no commit touches the schemas folder yet"]
    listings: dict[str, dict[str, str]] = {}
    blobs: set[str] = set()
    for commit in commits:
        listing = _git(top_dir, "ls-tree", "-r", "--full-tree", commit, "--", rel) or ""
        files: dict[str, str] = {}
        for line in listing.splitlines():
            meta, _, path = line.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and path.endswith(".avsc"):
                inside = path[len(rel) + 1 :] if rel not in ("", ".") else path
                files[inside] = parts[2]
                blobs.add(parts[2])
        listings[commit] = files
    contents = _cat_blobs(top_dir, sorted(blobs))
    found: dict[str, list[PastVersion]] = {}
    seen: dict[str, set[bytes]] = {}
    previous: dict[str, str] | None = None
    for commit in commits:
        if listings[commit] == previous:  # no .avsc changed in this commit
            continue
        previous = listings[commit]
        texts = {path: contents[blob] for path, blob in listings[commit].items() if blob in contents}
        try:
            tree = SchemaTree.from_texts(texts)
        except SchemaError as exc:
            notes.append(f"commit {commit[:10]} skipped: {exc}")
            continue
        for name in sorted(set(tree.current) | set(tree.history)):
            try:
                versions = tree.versions(name)
            except Exception as exc:
                notes.append(f"commit {commit[:10]}: {name} skipped: {exc}")
                continue
            for number, schema in versions:
                try:
                    fingerprint = fingerprint_of(schema)
                except Exception as exc:
                    notes.append(f"commit {commit[:10]}: {name} v{number} skipped: {exc}")
                    continue
                if fingerprint in seen.setdefault(name, set()):
                    continue
                seen[name].add(fingerprint)
                origin = f"git {commit[:10]}" + ("" if number == len(versions) else f" (kept v{number})")
                found.setdefault(name, []).append(PastVersion(name, origin, schema, fingerprint))
    return found, notes


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _cat_blobs(cwd: Path, blobs: list[str]) -> dict[str, str]:
    if not blobs:
        return {}
    done = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=cwd,
        input=("\n".join(blobs) + "\n").encode(),
        capture_output=True,
        check=False,
        timeout=120,
    )
    out: dict[str, str] = {}
    data = done.stdout
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        header = data[pos:end].decode().split()
        pos = end + 1
        if len(header) != 3:
            continue
        size = int(header[2])
        out[header[0]] = data[pos : pos + size].decode("utf-8")
        pos += size + 1
    return out


# ------------------------------------------------------------------------------------------------- the check
def kept_versions(tree: SchemaTree, name: str) -> list[PastVersion]:
    return [
        PastVersion(name, f"history v{item.version}", copy.deepcopy(item.raw), fingerprint_of(item.raw))
        for item in tree.history.get(name, [])
    ]


def check(
    root: Path | None = None,
    *,
    use_git: bool = True,
    catalog: TopicCatalog | None = None,
) -> CheckReport:
    """Lint the tree at ``root`` (default: the project's schemas), then compare every record with each of its
    past versions (kept ones and, with ``use_git``, git history's)."""
    base = root or schemas_root()
    report = CheckReport()
    try:
        tree = SchemaTree.from_directory(base)
    except SchemaError as exc:
        report.findings.append(Finding(str(base), str(exc)))
        return report
    if catalog is None and (base / "topics.yaml").exists():
        try:
            catalog = TopicCatalog.load(base / "topics.yaml", Vocabularies.load(base / "vocabularies"))
        except (OSError, ValueError) as exc:
            report.findings.append(Finding("topics.yaml", f"cannot load the topic catalog: {exc}"))
    report.findings.extend(lint(tree, catalog))
    history: dict[str, list[PastVersion]] = {}
    if use_git:
        history, notes = git_past_versions(base)
        report.notes.extend(notes)
    for name in sorted(tree.current):
        try:
            current = tree.expanded(name)
        except SchemaError:  # reported by lint
            continue
        current_fp = fingerprint_of(current)
        kept = kept_versions(tree, name)
        kept_fps = {v.fingerprint for v in kept}
        pasts = list(kept)
        for past in history.get(name, []):
            if past.fingerprint == current_fp or past.fingerprint in kept_fps:
                continue
            report.findings.append(
                Finding(
                    name,
                    f"the version in {past.origin} is not kept in {name.split('.')[1]}/{HISTORY_DIR}/ "
                    "(data written with it could not be decoded): run `joinedup schemas freeze`",
                )
            )
            pasts.append(past)
        for past in pasts:
            if past.fingerprint == current_fp:
                continue
            report.compared += 1
            report.findings.extend(compare(current, past))
    return report


def freeze(root: Path | None = None, names: Iterable[str] = ()) -> list[Path]:
    """Keep every version from git history that is not kept yet (and is not the current one) in
    ``<context>/history/<full name>.v<N>.avsc``, oldest first. Returns the files written."""
    base = root or schemas_root()
    tree = SchemaTree.from_directory(base)
    wanted = set(names) or set(tree.current)
    history, _ = git_past_versions(base)
    written: list[Path] = []
    for name in sorted(wanted):
        if name not in tree.current:
            raise SchemaError(f"no current schema file for {name}")
        current_fp = fingerprint_of(tree.expanded(name))
        kept = kept_versions(tree, name)
        known = {v.fingerprint for v in kept} | {current_fp}
        number = len(kept)
        for past in history.get(name, []):
            if past.fingerprint in known:
                continue
            number += 1
            target = base / name.split(".")[1] / HISTORY_DIR / f"{name}.v{number}.avsc"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(kept_schema_text(past.schema), encoding="utf-8")
            known.add(past.fingerprint)
            written.append(target)
    return written


def kept_schema_text(schema: Mapping[str, Any]) -> str:
    """How a kept version is written: indented JSON, self-contained."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
