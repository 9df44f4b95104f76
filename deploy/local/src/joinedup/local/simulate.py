"""Publishing the synthetic city through the real intake topics, with the agency SDK.

Each agency publishes its own submissions on ``joinedup.intake.<agency>`` with an
:class:`~joinedup.contract.sdk.AgencyPublisher` (``publish_many``: validate all, then send). The deliberate
invalid submissions would be refused by the SDK's own checks, so they are enveloped here without those checks
and sent as they are: the referral service must reject them with a reason on the agency's receipts topic.

Publishing goes in two phases: first what agencies report of their own accord (referrals among it), then the
receiving agencies' answers to those referrals; answers sent before their referral is processed would be
rejected as ``unknown-referral``, because the referral service sees each agency's topic separately. When
waiting, the second phase starts once the first phase's referrals have their receipts (or the wait timed out).

Sharing agreements go to the consent service's DPO API over HTTP when a URL and a token are given.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from joinedup.contract.envelope import envelope_for
from joinedup.contract.jsonl import draft_from_dict
from joinedup.contract.keys import IntakeRecord
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.models.shared_records import Envelope
from joinedup.contract.sdk import (
    AgencyPublisher,
    PublishedSubmission,
    Receipt,
    occurred_at_of,
    subject_of,
    submission_event_id,
)
from joinedup.local.layout import state_dir
from joinedup.local.synthetic.city import ANSWERS, FIRST_HAND, City, CitySubmission, write_truth_csv

Clock = Callable[[], datetime]
SentCallback = Callable[[str, int], None]
"""Called with (agency, how many were just acknowledged)."""

_PLACEHOLDER = datetime(1970, 1, 1, tzinfo=UTC)
IDLE_S = 15.0
"""Stop waiting for receipts once none has arrived for this long."""


def demo_dir() -> Path:
    """Where a simulation leaves its files (the truth CSV): ``.joinedup/demo``."""
    return state_dir() / "demo"


def truth_path() -> Path:
    return demo_dir() / "truth.csv"


def unchecked_record(submission: CitySubmission, clock: Clock) -> IntakeRecord:
    """A complete record for a submission the SDK's checks would refuse (codes, identifiers): the model's
    own field validation still applies, the envelope is filled exactly as the SDK fills it."""
    draft = draft_from_dict(submission.item)
    placeholder = Envelope(
        event_id=UUID(int=0),
        event_type=draft.model.short_name(),
        occurred_at=_PLACEHOLDER,
        recorded_at=_PLACEHOLDER,
        source_agency=submission.agency,
        correlation_id="",
        schema_fingerprint="",
    )
    record = draft.model.model_validate({**draft.fields, "envelope": placeholder})
    event_id = submission_event_id(record, submission.agency)
    envelope = envelope_for(
        draft.model,
        event_id=event_id,
        occurred_at=occurred_at_of(record),
        recorded_at=clock(),
        source_agency=submission.agency,
        correlation_id=str(event_id),
        subject=subject_of(record, submission.agency),
    )
    return record.model_copy(update={"envelope": envelope})


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ReceiptTally:
    accepted: int
    rejected: Counter[str]
    """Rejections by reason code."""
    missing: int = 0
    """Published submissions without a receipt (yet)."""

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())


def tally_receipts(receipts: Iterable[Receipt], expected: int | None = None) -> ReceiptTally:
    """Accepted and rejected-by-reason counts; ``missing`` when the number expected is known."""
    accepted = 0
    rejected: Counter[str] = Counter()
    for receipt in receipts:
        if isinstance(receipt, SubmissionAccepted):
            accepted += 1
        elif isinstance(receipt, SubmissionRejected):
            rejected[receipt.reason_code] += 1
    seen = accepted + sum(rejected.values())
    return ReceiptTally(accepted, rejected, max(0, expected - seen) if expected is not None else 0)


@dataclass
class SimulationResult:
    published: dict[str, list[PublishedSubmission]] = field(default_factory=dict)
    """By agency, in publishing order."""
    receipts: dict[str, list[Receipt]] = field(default_factory=dict)
    """By agency: the receipts matched to what was published (only when waiting)."""
    waited: bool = False

    def counts(self) -> Counter[tuple[str, str]]:
        """Published submissions per (agency, kind)."""
        return Counter(
            (agency, p.record.short_name()) for agency, sent in self.published.items() for p in sent
        )

    @property
    def total(self) -> int:
        return sum(len(sent) for sent in self.published.values())

    def tally(self) -> ReceiptTally:
        return tally_receipts((r for rs in self.receipts.values() for r in rs), self.total)


# ---------------------------------------------------------------------------------------------- publishing


def phase_records(
    submissions: Sequence[CitySubmission], clock: Clock
) -> tuple[list[dict[str, Any]], list[IntakeRecord]]:
    """The items ``publish_many`` takes (the valid ones) and the records to send unchecked (the invalid)."""
    valid = [dict(s.item) for s in submissions if s.valid]
    invalid = [unchecked_record(s, clock) for s in submissions if not s.valid]
    return valid, invalid


def publish_city(
    city: City,
    bootstrap: str,
    *,
    topic_names: Mapping[str, str] | None = None,
    wait: bool = False,
    receipt_timeout_s: float = 60.0,
    clock: Clock | None = None,
    on_sent: SentCallback | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Publish every agency's submissions (phase 1, then phase 2); with ``wait``, collect their receipts."""
    result = SimulationResult(waited=wait)
    with contextlib.ExitStack() as stack:
        publishers = {
            agency: stack.enter_context(
                AgencyPublisher(
                    agency,
                    bootstrap,
                    topic_names,
                    clock=clock,
                    client_id=f"joinedup-simulate-{agency}",
                    watch_receipts=wait,
                )
            )
            for agency in city.agencies
        }
        stamp = clock or publishers[city.agencies[0]].builder.clock
        answered = 0
        for phase in (FIRST_HAND, ANSWERS):
            if on_phase is not None:
                on_phase(
                    "first-hand reports and referrals" if phase == FIRST_HAND else "answers to referrals"
                )
            for agency, publisher in publishers.items():
                valid, invalid = phase_records(city.for_agency(agency, phase), stamp)

                def sent(n: int, agency: str = agency) -> None:
                    if on_sent is not None:
                        on_sent(agency, n)

                done = result.published.setdefault(agency, [])
                if valid:
                    done.extend(publisher.publish_many(valid, on_sent=sent))
                if invalid:
                    done.extend(publisher.send(invalid, on_sent=sent))
            if wait and phase == FIRST_HAND:
                answered = _wait(publishers, result, receipt_timeout_s, only="ReferralSubmission")
        if wait:
            _wait(publishers, result, receipt_timeout_s, patient=answered > 0)
    return result


def _wait(
    publishers: Mapping[str, AgencyPublisher],
    result: SimulationResult,
    timeout_s: float,
    only: str | None = None,
    idle_s: float = IDLE_S,
    patient: bool = True,
) -> int:
    """Collect receipts for what was published (of type ``only``, if given) until all have one, the
    deadline passes, or none has arrived for ``idle_s`` (a service that is not running answers nothing).
    ``patient``: the idle clock starts at the first receipt (a worker may still be joining its group).
    Returns how many receipts were found."""
    wanted = {
        agency: [
            p for p in result.published.get(agency, []) if only is None or p.submission_type.endswith(only)
        ]
        for agency in publishers
    }
    deadline = time.monotonic() + timeout_s
    last_progress, seen = time.monotonic(), -1
    while True:
        found = 0
        for agency, publisher in publishers.items():
            got = publisher.wait_for_receipts(wanted[agency], timeout_s=0.2)
            result.receipts[agency] = [got[p.event_id] for p in wanted[agency] if p.event_id in got]
            found += len(result.receipts[agency])
        now = time.monotonic()
        if found > seen:
            seen, last_progress = found, now
        idle = now - last_progress >= idle_s and (found > 0 or not patient)
        if found >= sum(len(w) for w in wanted.values()) or now >= deadline or idle:
            return found


def write_truth(city: City, path: Path | None = None) -> Path:
    """The ground truth beside the run, for the summary to compare the identity resolver with."""
    return write_truth_csv(city.truth_rows(), path or truth_path())


# ---------------------------------------------------------------------------------------------- agreements


@dataclass(frozen=True)
class AgreementOutcome:
    agreement_id: str
    status: str
    """``registered``, ``already registered``, or ``refused (<HTTP status>: <reason code>)``."""


def register_agreements(
    city: City, url: str, token: str, *, client: httpx.Client | None = None
) -> list[AgreementOutcome]:
    """POST each agreement to the consent service's DPO API; a refusal is reported, never raised."""
    own = client is None
    http = client or httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0)
    outcomes: list[AgreementOutcome] = []
    try:
        for agreement in city.agreements:
            try:
                response = http.post("/v1/agreements", json=agreement.request_body())
            except httpx.TransportError:
                outcomes.append(AgreementOutcome(agreement.agreement_id, f"not sent: {url} is not reachable"))
                continue
            if response.is_success:
                body = response.json()
                status = "registered" if body.get("event_ids") else "already registered"
            else:
                status = f"refused ({response.status_code}: {_reason(response)})"
            outcomes.append(AgreementOutcome(agreement.agreement_id, status))
    finally:
        if own:
            http.close()
    return outcomes


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return "no reason given"
    if isinstance(detail, dict):
        return str(detail.get("reason_code", "rejected"))
    return "invalid request" if isinstance(detail, list) else str(detail or "rejected")
