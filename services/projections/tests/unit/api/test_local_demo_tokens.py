"""The demo tokens `joinedup up` writes (joinedup.local.commands) are ones the query API accepts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from joinedup.contract.vocabularies import vocabularies
from joinedup.local.commands import demo_tokens, service_env
from joinedup.projections.api.auth import TokenBook


def test_the_demo_api_tokens_load_with_known_agencies_and_every_role(tmp_path: Path) -> None:
    _, api_file, _ = demo_tokens(tmp_path)
    tokens = yaml.safe_load(api_file.read_text())["tokens"]
    book = TokenBook.load(api_file, vocabularies().agencies.code_set())
    principals = [book.principal(token) for token in tokens]
    assert all(p is not None for p in principals)
    assert {p.role for p in principals if p is not None} == {"caseworker", "dpo", "admin"}


def test_the_demo_tokens_are_written_once_private_and_reused(tmp_path: Path) -> None:
    first = demo_tokens(tmp_path)
    contents = first[1].read_text()
    second = demo_tokens(tmp_path)
    assert second == first
    assert first[1].read_text() == contents
    for path in first[:2]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_up_gives_the_api_its_tokens_and_the_consent_service_a_token_it_knows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOINEDUP_HOME", str(tmp_path))
    for name in ("JOINEDUP_API_TOKENS_FILE", "JOINEDUP_API_CONSENT_TOKEN", "JOINEDUP_CONSENT_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    env = service_env("127.0.0.1:9092")
    consent_tokens = yaml.safe_load(Path(env["JOINEDUP_CONSENT_TOKENS_FILE"]).read_text())["tokens"]
    assert consent_tokens[env["JOINEDUP_API_CONSENT_TOKEN"]]["role"] == "admin"
    assert Path(env["JOINEDUP_API_TOKENS_FILE"]).parent == tmp_path / "tokens"
    assert env["JOINEDUP_API_CONSENT_URL"] == "http://127.0.0.1:8081"


def test_tokens_the_user_configured_win_over_the_demo_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOINEDUP_HOME", str(tmp_path))
    monkeypatch.setenv("JOINEDUP_API_TOKENS_FILE", "/etc/joinedup/api-tokens.yaml")
    assert service_env("127.0.0.1:9092")["JOINEDUP_API_TOKENS_FILE"] == "/etc/joinedup/api-tokens.yaml"
