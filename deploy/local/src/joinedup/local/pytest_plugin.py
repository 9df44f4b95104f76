"""pytest fixtures for joinedup (registered through the ``pytest11`` entry point).

- ``kafka_bootstrap``: a real broker for the session (see joinedup.local.test_broker for how it is chosen).
- ``unique_prefix``: a fresh topic / group-id prefix per test, so tests never see each other's records.
- ``catalog_topics``: the whole topic catalog created under the test's prefix; returns real-name -> test-name.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from joinedup.contract.kafka import admin_client, apply_topics
from joinedup.contract.topics import catalog
from joinedup.local.test_broker import SessionBroker, session_broker


@pytest.fixture(scope="session")
def kafka_session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionBroker]:
    with session_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_session_broker: SessionBroker) -> str:
    return kafka_session_broker.bootstrap


@pytest.fixture
def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def catalog_topics(kafka_bootstrap: str, unique_prefix: str) -> dict[str, str]:
    renamed = catalog().renamed(unique_prefix)
    admin = admin_client(kafka_bootstrap)
    try:
        report = apply_topics(admin, renamed.values())
    finally:
        admin.close()
    assert report.ok, report.drift
    return {original: spec.name for original, spec in renamed.items()}
