from __future__ import annotations

import pytest

from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.testing import History, Scenario
from joinedup.referral.domain.events import ReferralEvent
from joinedup.referral.domain.submissions import Submission


@pytest.fixture
def scenario() -> Scenario:
    return Scenario(MemoryReferralStore())


@pytest.fixture
def history() -> History:
    """The canonical events a sequence of (agency, submission) steps records, each of which must be accepted
    (for ``given``: state built from events alone)."""

    def run(*steps: tuple[str, Submission]) -> tuple[ReferralEvent, ...]:
        past = Scenario(MemoryReferralStore()).when_all(steps)
        for outcome in past.outcomes:
            assert outcome.rejection is None, outcome.rejection
        return past.events

    return run
