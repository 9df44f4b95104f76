"""Fixtures shared by the contract's unit tests."""

from __future__ import annotations

import pytest

from joinedup.contract.schemas import ContractRegistry, registry
from joinedup.contract.serde import Codec, default_codec


@pytest.fixture(scope="session")
def contract() -> ContractRegistry:
    return registry()


@pytest.fixture(scope="session")
def codec() -> Codec:
    return default_codec()
