"""Domain <-> contract: every canonical event and receipt maps onto its Avro record and survives the wire."""

from __future__ import annotations

from uuid import UUID

from joinedup.contract.models.intake import ReferralSubmission
from joinedup.contract.serde import default_codec
from joinedup.referral.adapters.mapping import (
    CONTRACT_EVENTS,
    event_datum,
    event_to_contract,
    receipt_datum,
    receipt_to_contract,
    submission_fields,
)
from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.intake import parse_submission
from joinedup.referral.app.testing import (
    RECEIVER,
    REFERRER,
    Scenario,
    a_contact,
    a_referral,
    a_response,
    a_withdrawal,
    an_assessment,
)
from joinedup.referral.domain.events import EVENT_TYPES
from joinedup.referral.domain.submissions import ReferralSubmission as DomainSubmission


def every_kind_of_event() -> Scenario:
    return Scenario(MemoryReferralStore()).when_all(
        [
            (REFERRER, a_referral("R-1")),
            (RECEIVER, a_response("accept", "R-1")),
            (RECEIVER, an_assessment("scheduled", "A-1")),
            (RECEIVER, an_assessment("started", "A-1")),
            (RECEIVER, an_assessment("completed", "A-1")),
            (RECEIVER, a_response("close", "R-1")),
            (REFERRER, a_referral("R-2")),
            (RECEIVER, a_response("decline", "R-2")),
            (REFERRER, a_referral("R-3")),
            (REFERRER, a_withdrawal("R-3")),
            (RECEIVER, an_assessment("scheduled", "A-2", under=None)),
            (RECEIVER, an_assessment("cancelled", "A-2", under=None)),
            ("police", a_contact("C-1")),
            (REFERRER, a_referral("R-4", to_agency="the-moon")),
        ]
    )


def test_every_domain_event_maps_to_its_contract_record_and_round_trips() -> None:
    scenario = every_kind_of_event()
    assert {type(e).__name__ for e in scenario.events} == set(EVENT_TYPES) == set(CONTRACT_EVENTS)
    codec = default_codec()
    for event in scenario.events:
        record = event_to_contract(event)
        assert record.avro_name == f"joinedup.referral.{type(event).__name__}"
        decoded = codec.decode(codec.encode(record))
        assert decoded.model_dump(exclude={"envelope"}) == event.model_dump(exclude={"envelope"})
        assert decoded.envelope.event_id == UUID(event.envelope.event_id)
        assert (
            decoded.envelope.schema_fingerprint
            == codec.contract.for_model(type(record)).current.fingerprint_hex
        )


def test_both_kinds_of_receipt_map_to_their_contract_records_and_round_trip() -> None:
    outcomes = every_kind_of_event().outcomes
    codec = default_codec()
    names = set()
    for outcome in outcomes:
        record = receipt_to_contract(outcome.receipt)
        decoded = codec.decode(codec.encode(record))
        assert decoded.model_dump(exclude={"envelope", "event_ids"}) == outcome.receipt.model_dump(
            exclude={"envelope", "event_ids"}
        )
        names.add(record.avro_name)
    assert names == {"joinedup.receipts.SubmissionAccepted", "joinedup.receipts.SubmissionRejected"}


def test_a_receipt_names_the_submitted_record_by_its_avro_full_name() -> None:
    contract = default_codec().contract
    typed = [o.receipt.submission_type for o in every_kind_of_event().outcomes if o.receipt.submission_type]
    assert typed
    for name in typed:
        assert name.startswith("joinedup.intake.")
        assert name in contract


def test_a_decoded_intake_record_reads_back_as_the_same_submission() -> None:
    submission = a_referral("R-9")
    wire = ReferralSubmission.model_validate(submission.model_dump())
    decoded = default_codec().decode(default_codec().encode(wire))
    again = parse_submission(DomainSubmission, submission_fields(decoded))
    assert again.model_dump(exclude={"envelope"}) == submission.model_dump(exclude={"envelope"})
    assert again.envelope.event_id == submission.envelope.event_id


def test_the_hot_path_datum_encodes_to_the_same_bytes_as_the_contract_model() -> None:
    scenario = every_kind_of_event()
    codec = default_codec()
    for event in scenario.events:
        datum = event_datum(event)
        assert codec.encode_dict(datum.avro_name, datum.fields) == codec.encode(event_to_contract(event))
    for outcome in scenario.outcomes:
        datum = receipt_datum(outcome.receipt)
        assert codec.encode_dict(datum.avro_name, datum.fields) == codec.encode(
            receipt_to_contract(outcome.receipt)
        )
