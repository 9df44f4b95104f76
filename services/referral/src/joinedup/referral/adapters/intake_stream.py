"""The referral service's logic on one shard of the stream runtime (joinedup.contract.streams).

For each decoded intake record of a batch: run the pure handler against the shard's state (the SQLite store
sharing the shard's transaction), and turn its outcome into outputs: canonical events to
``joinedup.referral.events`` keyed by subject record, the receipt to ``joinedup.receipts.<agency>`` keyed by
the submission's reference. The runtime encodes, stores the outputs with the offsets, and relays them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

from joinedup.contract.envelope import from_kafka_timestamp
from joinedup.contract.streams import Input, Output
from joinedup.contract.topics import REFERRAL_EVENTS, agency_of_intake_topic, receipts_topic
from joinedup.referral.adapters.mapping import event_datum, receipt_datum, submission_fields
from joinedup.referral.app.handlers import event_key, handle_record, receipt_key
from joinedup.referral.app.ports import Coordinates, ReferralState
from joinedup.referral.domain.reference import ReferenceData
from joinedup.referral.domain.rules import FUTURE_TOLERANCE


@runtime_checkable
class WriteBuffer(Protocol):
    """A state that buffers its writes (the SQLite store): written at the end of a batch, forgotten if the
    batch fails (the runtime then rolls the shard's transaction back to before the batch)."""

    def flush(self) -> None: ...

    def discard(self) -> None: ...


class NotAnIntakeTopic(ValueError):
    """The runtime handed the referral service a record from a topic that is not an agency's intake."""


class IntakeShardHandler:
    """Implements ``joinedup.contract.streams.ShardHandler`` for the referral service."""

    def __init__(
        self,
        state: ReferralState,
        reference: ReferenceData,
        future_tolerance: timedelta = FUTURE_TOLERANCE,
    ) -> None:
        self.state = state
        self.reference = reference
        self.future_tolerance = future_tolerance
        self._buffer = state if isinstance(state, WriteBuffer) else None
        """The state's write buffer, if it has one (checked once, not per batch)."""

    def handle(self, inputs: Sequence[Input]) -> list[Output]:
        buffer = self._buffer
        try:
            outputs = self._handle(inputs)
            if buffer is not None:
                buffer.flush()
        except BaseException:
            if buffer is not None:
                buffer.discard()
            raise
        return outputs

    def _handle(self, inputs: Sequence[Input]) -> list[Output]:
        outputs: list[Output] = []
        for item in inputs:
            agency = agency_of_intake_topic(item.topic)
            if agency is None:
                raise NotAnIntakeTopic(item.topic)
            coordinates = Coordinates(
                item.topic, item.partition, item.offset, from_kafka_timestamp(item.timestamp_ms)
            )
            outcome = handle_record(
                item.record.avro_name,
                submission_fields(item.record),
                agency,
                coordinates,
                self.state,
                self.reference,
                self.future_tolerance,
            )
            if outcome is None:  # not this service's record (a ConsentStatement)
                continue
            outputs.extend(
                Output(REFERRAL_EVENTS, event_key(event), event_datum(event)) for event in outcome.events
            )
            receipt = outcome.receipt
            outputs.append(Output(receipts_topic(agency), receipt_key(receipt), receipt_datum(receipt)))
        return outputs
