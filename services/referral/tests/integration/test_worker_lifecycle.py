"""The referral worker against a real broker: intake topics in, canonical events and receipts out."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.topics import DEAD_LETTER, REFERRAL_EVENTS, receipts_topic
from joinedup.referral.app.testing import (
    RECEIVER,
    REFERRER,
    a_person,
    a_referral,
    a_response,
    an_assessment,
    an_envelope,
)

from .conftest import Agencies, read_topic, running_worker

pytestmark = [pytest.mark.broker, pytest.mark.timeout(240)]


def test_a_referral_lives_its_whole_life_across_two_agencies_intake_topics(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    agencies = Agencies(kafka_bootstrap, catalog_topics)
    with running_worker(kafka_bootstrap, catalog_topics, tmp_path):
        agencies.publish(REFERRER, a_referral("R-1"))
        agencies.flush()
        referrer_receipts = read_topic(
            kafka_bootstrap, catalog_topics[receipts_topic(REFERRER)], until=lambda rs: len(rs) >= 1
        )
        assert [type(r.record) for r in referrer_receipts] == [SubmissionAccepted]
        for step in (
            a_response("accept"),
            an_assessment("scheduled"),
            an_assessment("started"),
            an_assessment("completed"),
            a_response("close"),
        ):
            agencies.publish(RECEIVER, step)
        agencies.flush()
        receiver_receipts = read_topic(
            kafka_bootstrap, catalog_topics[receipts_topic(RECEIVER)], until=lambda rs: len(rs) >= 5
        )
        events = read_topic(
            kafka_bootstrap, catalog_topics[REFERRAL_EVENTS], until=lambda rs: len(rs) >= 6, settle_s=1
        )
    agencies.close()
    assert [type(r.record) for r in receiver_receipts] == [SubmissionAccepted] * 5
    by_offset = sorted(events, key=lambda r: (r.record.envelope.recorded_at, r.partition, r.offset))
    assert sorted(r.record.envelope.event_type for r in by_offset) == sorted(
        [
            "ReferralReceived",
            "ReferralAccepted",
            "AssessmentScheduled",
            "AssessmentStarted",
            "AssessmentCompleted",
            "ReferralClosed",
        ]
    )
    accepted = [r.record for r in referrer_receipts + receiver_receipts]
    announced = [
        i for receipt in accepted if isinstance(receipt, SubmissionAccepted) for i in receipt.event_ids
    ]
    assert sorted(announced) == sorted(r.record.envelope.event_id for r in events)
    received = next(r for r in events if r.record.envelope.event_type == "ReferralReceived")
    assert received.key == f"{REFERRER}/P-1"
    assert received.headers["ce_id"] == str(received.record.envelope.event_id).encode()
    assert received.headers["ce_type"] == b"joinedup.referral.ReferralReceived"
    assert received.headers["content-type"] == b"application/avro"


def test_bad_submissions_get_their_reasons_duplicates_one_event_set_and_garbage_a_dead_letter(
    kafka_bootstrap: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    agencies = Agencies(kafka_bootstrap, catalog_topics)
    forged = a_referral("R-F", envelope=an_envelope("police", "ReferralSubmission", "R-F"))
    bad = {
        "R-F": ("forged-agency", forged),
        "R-N": ("invalid-nhs-number", a_referral("R-N", subject=a_person(nhs_number="9434765918"))),
        "R-T": ("unknown-assessment-type", a_referral("R-T", requested_assessment_type="tea-leaves")),
        "R-A": ("unknown-agency", a_referral("R-A", to_agency="the-moon")),
        "R-X": ("conflict", a_referral("R-D", summary="Another story.")),
    }
    with running_worker(kafka_bootstrap, catalog_topics, tmp_path):
        agencies.publish(REFERRER, a_referral("R-D"))
        agencies.publish(REFERRER, a_referral("R-D"))  # the same submission again
        for ref in ("R-F", "R-N", "R-T", "R-A", "R-X"):
            agencies.publish(REFERRER, bad[ref][1])
        agencies.publish_raw(REFERRER, b"probation/R-G", b"\xc3\x01 not avro at all")
        agencies.flush()
        receipts = read_topic(
            kafka_bootstrap, catalog_topics[receipts_topic(REFERRER)], until=lambda rs: len(rs) >= 7
        )
        letters = read_topic(kafka_bootstrap, catalog_topics[DEAD_LETTER], until=lambda rs: len(rs) >= 1)
        events = read_topic(
            kafka_bootstrap, catalog_topics[REFERRAL_EVENTS], until=lambda rs: len(rs) >= 1, settle_s=1
        )
    agencies.close()
    accepted = [r.record for r in receipts if isinstance(r.record, SubmissionAccepted)]
    assert len(accepted) == 2
    assert accepted[0] == accepted[1]  # the identical receipt
    rejected = {r.key: r.record.reason_code for r in receipts if isinstance(r.record, SubmissionRejected)}
    assert rejected == {
        "R-F": "forged-agency",
        "R-N": "invalid-nhs-number",
        "R-T": "unknown-assessment-type",
        "R-A": "unknown-agency",
        "R-D": "conflict",
    }
    assert [r.record.envelope.event_type for r in events] == ["ReferralReceived"]
    assert len(letters) == 1
    letter = letters[0].record
    assert isinstance(letter, DeadLetter)
    assert (letter.source_topic, letter.key) == (
        catalog_topics["joinedup.intake.probation"],
        b"probation/R-G",
    )
    assert letter.payload == b"\xc3\x01 not avro at all"
