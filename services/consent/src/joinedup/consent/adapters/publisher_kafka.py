"""Publishes a DPO's agreement events on ``joinedup.consent.events`` with an idempotent kafka-python producer
(acks=all). Each event is keyed ``agreement/<id>`` and carries the CloudEvents headers."""

from __future__ import annotations

from collections.abc import Sequence

from kafka.errors import KafkaError

from joinedup.consent.adapters.mapping import Provenance, event_key, to_avro
from joinedup.consent.app.ports import Issued, PublishFailedError
from joinedup.consent.domain.events import AgreementEvent
from joinedup.contract.kafka import producer
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.streams import cloud_event_headers
from joinedup.contract.topics import CONSENT_EVENTS

SOURCE = "urn:joinedup:consent"


def provenance_of(issued: Issued) -> Provenance:
    return Provenance(
        recorded_at=issued.at,
        occurred_at=issued.at,
        correlation_id=issued.correlation_id,
        causation_id=None,
        source_agency=issued.agency,
    )


class KafkaAgreementPublisher:
    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = CONSENT_EVENTS,
        client_id: str = "joinedup.consent.api",
        timeout_s: float = 30.0,
        codec: Codec | None = None,
    ) -> None:
        self._producer = producer(bootstrap, client_id)
        self._topic = topic
        self._timeout_s = timeout_s
        self._codec = codec or default_codec()

    def publish(self, events: Sequence[AgreementEvent], issued: Issued) -> None:
        provenance = provenance_of(issued)
        try:
            futures = []
            for event in events:
                record = to_avro(event, provenance)
                key = event_key(event)
                futures.append(
                    self._producer.send(
                        self._topic,
                        value=self._codec.encode(record),
                        key=key.encode(),
                        headers=list(cloud_event_headers(record, key, SOURCE)),
                    )
                )
            self._producer.flush(timeout=self._timeout_s)
            for future in futures:
                future.get(timeout=self._timeout_s)
        except KafkaError as error:
            raise PublishFailedError(type(error).__name__) from error

    def close(self) -> None:
        self._producer.close(timeout=self._timeout_s)
