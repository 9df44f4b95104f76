"""The application handlers with an in-memory store: intake outcomes, the projection, the decision point.

A list stands in for ``joinedup.consent.events``: what intake publishes is appended to it, and the
projection consumes it back, as the Kafka wiring will.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from joinedup.consent.adapters.store_memory import InMemoryConsentStore
from joinedup.consent.app.handlers import ConsentService, ConsumedEvent, Position
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.testing import (
    EPOCH,
    day,
    end_command,
    question,
    record,
    register_command,
    scope,
    statement_command,
)
from joinedup.consent.domain import ConsentEvent

TOPIC = "joinedup.consent.events"


class ConsentEventsTopic:
    def __init__(self) -> None:
        self.messages: list[ConsentEvent] = []
        self.consumed = 0

    def publish(self, events: Sequence[ConsentEvent]) -> None:
        self.messages.extend(events)

    def consume_into(self, service: ConsentService) -> int:
        batch = [
            ConsumedEvent(event, Position(TOPIC, 0, offset))
            for offset, event in enumerate(self.messages)
            if offset >= self.consumed
        ]
        self.consumed = len(self.messages)
        return service.apply(batch)


def _service() -> tuple[ConsentService, InMemoryConsentStore, ConsentEventsTopic]:
    store = InMemoryConsentStore()
    return ConsentService(store, known_codes()), store, ConsentEventsTopic()


def test_an_accepted_statement_names_its_event_and_a_duplicate_names_it_again_without_republishing() -> None:
    service, _, topic = _service()
    command = statement_command()

    first = service.submit_statement(command, topic_agency="council-asc", now=EPOCH)
    topic.publish(first.events)
    topic.consume_into(service)
    again = service.submit_statement(command, topic_agency="council-asc", now=EPOCH)

    assert first.accepted
    assert again.accepted
    assert [e.event_id for e in first.events] == list(first.event_ids)
    assert again.events == ()
    assert again.event_ids == first.event_ids


def test_a_rejected_statement_carries_its_reason_for_the_receipt() -> None:
    service, _, _ = _service()

    outcome = service.submit_statement(
        statement_command(agency="police"), topic_agency="council-asc", now=EPOCH
    )

    assert not outcome.accepted
    assert outcome.events == ()
    assert outcome.rejection is not None
    assert (outcome.rejection.reason_code, outcome.rejection.field) == (
        "forged-agency",
        "envelope.source_agency",
    )


def test_submitting_does_not_change_the_state_until_the_event_is_consumed() -> None:
    service, store, topic = _service()

    outcome = service.submit_statement(statement_command(), topic_agency="council-asc", now=EPOCH)
    before = store.state().fingerprint()
    topic.publish(outcome.events)
    topic.consume_into(service)

    assert before != store.state().fingerprint()
    assert service.decide(question(at=day("2026-03-01"))).basis_kind == "consent"


def test_the_projection_records_processed_ids_and_the_next_offset_and_skips_duplicates() -> None:
    service, store, topic = _service()
    outcome = service.submit_statement(statement_command(), topic_agency="council-asc", now=EPOCH)
    topic.publish([*outcome.events, *outcome.events])  # at-least-once: published twice

    new = topic.consume_into(service)
    redelivered = service.apply([ConsumedEvent(outcome.events[0], Position(TOPIC, 0, 1))])

    assert (new, redelivered) == (1, 0)
    assert store.is_processed(outcome.events[0].event_id)
    assert service.offsets() == {(TOPIC, 0): 2}


def test_statements_and_agreements_in_decisions_and_trail_out() -> None:
    service, _, topic = _service()
    topic.publish(
        service.register_agreement(register_command(owners=("council-asc",), recipients=("nhs-mh-trust",)))
    )
    topic.publish(
        service.submit_statement(
            statement_command(
                "objection",
                ref="OBJ-1",
                covering=scope(recipients=["nhs-mh-trust"]),
                occurred_at=day("2026-03-01"),
            ),
            topic_agency="council-asc",
            now=day("2026-03-01"),
        ).events
    )
    topic.consume_into(service)
    records = [record()]

    decisions = service.decide_many(
        [
            question(owner="council-asc", recipient="nhs-mh-trust", records=records, at=day("2026-02-01")),
            question(owner="council-asc", recipient="nhs-mh-trust", records=records, at=day("2026-03-02")),
            question(
                owner="council-asc",
                recipient="nhs-mh-trust",
                purpose="safeguarding",
                records=records,
                at=day("2026-03-02"),
            ),
        ]
    )

    assert [(d.permit, d.basis_kind, d.reason) for d in decisions] == [
        (True, "agreement", None),
        (False, "none", "objection"),
        (True, "agreement", "objection-overridden"),
    ]
    assert [e.action for e in service.trail([record()]).entries] == ["agreement-registered", "objection"]


def test_a_withdrawal_published_after_an_agreement_changes_later_decisions_and_not_earlier_ones() -> None:
    service, _, topic = _service()
    asked = [
        question(owner="council-asc", recipient="nhs-mh-trust", at=day(d))
        for d in ("2026-02-01", "2026-04-01")
    ]
    topic.publish(
        service.register_agreement(register_command(owners=("council-asc",), recipients=("nhs-mh-trust",)))
    )
    topic.consume_into(service)
    before = service.decide_many(asked)

    withdrawal = statement_command("withdrawn", ref="WD-1", occurred_at=day("2026-03-01"))
    topic.publish(
        service.submit_statement(withdrawal, topic_agency="council-asc", now=day("2026-03-01")).events
    )
    topic.consume_into(service)
    after = service.decide_many(asked)

    assert [d.permit for d in before] == [True, True]
    assert [d.permit for d in after] == [True, False]
    assert after[0] == before[0]
    assert after[1].reason == "consent-withdrawn"


def test_an_ended_agreement_is_not_in_force_in_the_point_in_time_view_after_its_end() -> None:
    service, _, topic = _service()
    topic.publish(
        service.register_agreement(register_command(owners=("council-asc",), recipients=("nhs-mh-trust",)))
    )
    topic.consume_into(service)
    topic.publish(service.end_agreement(end_command(ended_at=day("2026-05-01"))))
    topic.consume_into(service)

    assert [a.agreement_id for a in service.in_force_at([record()], day("2026-04-30")).agreements] == [
        "isa-mh-asc"
    ]
    assert service.in_force_at([record()], day("2026-05-01")).agreements == ()


def test_the_future_tolerance_is_configurable() -> None:
    service = ConsentService(InMemoryConsentStore(), known_codes(), future_tolerance=timedelta(0))

    outcome = service.submit_statement(
        statement_command(occurred_at=EPOCH + timedelta(seconds=1)), topic_agency="council-asc", now=EPOCH
    )

    assert outcome.rejection is not None
    assert outcome.rejection.reason_code == "occurred-in-future"
