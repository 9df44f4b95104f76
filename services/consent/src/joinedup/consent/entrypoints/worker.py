"""The consent worker's two loops.

- **Intake** (consumer group ``joinedup.consent.intake``): the shared stream runtime
  (:class:`joinedup.contract.streams.StreamRuntime`) runs :class:`ConsentIntakeHandler` over every
  ``joinedup.intake.<agency>`` topic, shard by shard, with state, offsets and outbox in one SQLite
  transaction and a transactional relay.
- **Decision state** (:class:`DecisionStateFollower`): every process that answers decisions needs the
  *whole* state, so it reads every partition of ``joinedup.consent.events`` itself (assigned, no consumer
  group: a group would split the partitions between processes) and folds them into its
  :class:`~joinedup.consent.adapters.store_sqlite.SqliteConsentStore`, which commits the events, their ids
  and the offsets in one transaction and is where the follower resumes. Anything on the topic that is not
  a decodable consent event goes to ``joinedup.deadletter`` before its offset is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import UnknownTopicOrPartitionError  # type: ignore[import-untyped]

from joinedup.consent.adapters.mapping import consent_event_of
from joinedup.consent.adapters.publisher_kafka import SOURCE
from joinedup.consent.app.handlers import ConsentService, ConsumedEvent, Position
from joinedup.contract.dead_letters import dead_letter_for, dead_letter_key
from joinedup.contract.errors import DecodeError
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.streams import cloud_event_headers
from joinedup.contract.topics import CONSENT_EVENTS, DEAD_LETTER

log = logging.getLogger(__name__)

STATE_READER = "joinedup.consent.state"
"""Named like a consumer group in dead letters and client ids; the follower joins no group."""


class NotAConsentEventError(Exception):
    """A record on joinedup.consent.events that decodes but is not a consent event."""


class DecisionStateFollower:
    """Keeps ``service``'s state up to date with every partition of ``joinedup.consent.events``."""

    def __init__(
        self,
        service: ConsentService,
        *,
        bootstrap: str,
        topic_names: Mapping[str, str] | None = None,
        max_batch: int = 1000,
        poll_timeout_ms: int = 200,
        client_id: str = "joinedup.consent.state",
        codec: Codec | None = None,
    ) -> None:
        names = topic_names or {}
        self._service = service
        self._bootstrap = bootstrap
        self._topic = names.get(CONSENT_EVENTS, CONSENT_EVENTS)
        self._dead_letters = names.get(DEAD_LETTER, DEAD_LETTER)
        self._max_batch = max_batch
        self._poll_timeout_ms = poll_timeout_ms
        self._client_id = client_id
        self._codec = codec or default_codec()
        self.applied = 0
        """Consent events folded in since start (duplicates excluded)."""
        self.caught_up = asyncio.Event()
        """Set once the state holds everything that was on the topic when the follower started."""

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            client_id=f"{self._client_id}.deadletter",
            enable_idempotence=True,
            acks="all",
        )
        await consumer.start()
        try:
            await producer.start()
            try:
                targets = await self._assign(consumer, producer)
                while not stop.is_set():
                    batch = await consumer.getmany(
                        timeout_ms=self._poll_timeout_ms, max_records=self._max_batch
                    )
                    if batch:
                        await self._fold(batch, producer)
                    if not self.caught_up.is_set() and await self._reached(consumer, targets):
                        self.caught_up.set()
            finally:
                await producer.stop()
        finally:
            await consumer.stop()

    async def _partitions(self, producer: AIOKafkaProducer) -> list[int]:
        """The topic's partitions (the producer's metadata look-up waits for a topic just created)."""
        try:
            partitions: set[int] = await producer.partitions_for(self._topic)
        except UnknownTopicOrPartitionError:
            raise RuntimeError(f"topic {self._topic} does not exist (run `joinedup topics apply`)") from None
        return sorted(partitions)

    async def _assign(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer
    ) -> dict[TopicPartition, int]:
        partitions = await self._partitions(producer)
        assigned = [TopicPartition(self._topic, p) for p in partitions]
        consumer.assign(assigned)
        stored = self._service.offsets()
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(assigned)
        return ends

    async def _reached(self, consumer: AIOKafkaConsumer, targets: Mapping[TopicPartition, int]) -> bool:
        for tp, end in targets.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def _fold(self, batch: Mapping[TopicPartition, list[Any]], producer: AIOKafkaProducer) -> None:
        consumed: list[ConsumedEvent] = []
        skipped: list[Position] = []
        for tp in sorted(batch):
            messages = batch[tp]
            decoded = self._codec.decode_many([m.value or b"" for m in messages])
            for message, result in zip(messages, decoded, strict=True):
                position = Position(message.topic, message.partition, message.offset)
                event = None if isinstance(result, DecodeError) else consent_event_of(result)
                if event is not None:
                    consumed.append(ConsumedEvent(event, position))
                    continue
                error = result if isinstance(result, DecodeError) else NotAConsentEventError()
                await self._dead_letter(producer, message, error)
                skipped.append(position)
        self.applied += self._service.apply(consumed, skipped)

    async def _dead_letter(self, producer: AIOKafkaProducer, message: Any, error: Exception) -> None:
        log.warning(
            "%s: %s/%d@%d is not a consent event (%s): dead-lettered",
            STATE_READER,
            message.topic,
            message.partition,
            message.offset,
            type(error).__name__,
        )
        letter = dead_letter_for(
            error,
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            source_timestamp_ms=message.timestamp,
            key=message.key,
            payload=message.value or b"",
            consumer_group=STATE_READER,
        )
        key = dead_letter_key(message.topic, message.partition, message.offset)
        await producer.send_and_wait(
            self._dead_letters,
            self._codec.encode(letter),
            key=key.encode(),
            headers=list(cloud_event_headers(letter, key, SOURCE)),
        )
