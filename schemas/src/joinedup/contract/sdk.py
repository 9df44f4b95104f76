"""The agency SDK: build, check and publish intake submissions, and read their receipts back.

Two layers:

- :class:`SubmissionBuilder` (no Kafka): turns a draft (a JSON-lines object, a
  :class:`~joinedup.contract.jsonl.Draft` or a model) into a complete intake record. It validates the fields
  against the pydantic model, the codes against the vocabularies and the NHS / NI numbers against their
  checks, and raises :class:`~joinedup.contract.jsonl.InvalidSubmission` naming every bad field; then it
  fills the envelope.
- :class:`AgencyPublisher` (kafka-python, idempotent producer, acks=all): sends built records to
  ``joinedup.intake.<agency>`` keyed by :func:`joinedup.contract.keys.intake_key`, with CloudEvents headers,
  and reads ``joinedup.receipts.<agency>`` (read_committed) for ``SubmissionAccepted`` and
  ``SubmissionRejected``.

The envelope the builder fills: ``event_id`` is a UUIDv5 of (agency, record short name, own reference, a hash
of the record's content without the envelope), so publishing the same submission again keeps its id (and the
referral service answers a duplicate with its original receipt); ``source_agency`` is the publishing agency;
``occurred_at`` comes from the record (referred_at, responded_at, withdrawn_at, occurred_at, or a consent
statement's valid_from); ``recorded_at`` is the publisher's clock at build time (the agency's "when we told
joinedup"); ``correlation_id`` is the event id unless the draft gives one; ``subject`` is the record's own
subject (agency + local person id) where it has one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from joinedup.contract import kafka as kafka_clients
from joinedup.contract.code_checks import unknown_codes
from joinedup.contract.envelope import cloudevents_headers, envelope_for, event_id_for
from joinedup.contract.errors import ContractError, DecodeError
from joinedup.contract.identifiers import nhs_number_is_valid, ni_number_is_valid
from joinedup.contract.jsonl import Draft, InvalidSubmission, Problem, draft_from_dict
from joinedup.contract.keys import IntakeRecord, intake_key
from joinedup.contract.models.intake import (
    AssessmentRecord,
    ConsentStatement,
    ContactRecord,
    ReferralResponse,
    ReferralSubmission,
    ReferralWithdrawal,
)
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.models.shared_records import Envelope, RecordRef
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.topics import intake_topic, receipts_topic
from joinedup.contract.vocabularies import Vocabularies, vocabularies

Receipt = SubmissionAccepted | SubmissionRejected
Clock = Callable[[], datetime]
ReceiptKey = UUID | str
"""What a receipt is looked up by: the submission's event id (exact), or its own reference (the latest
receipt for that reference)."""

_PLACEHOLDER_TIME = datetime(1970, 1, 1, tzinfo=UTC)
_PLACEHOLDER_ID = UUID(int=0)


class PublishError(ContractError):
    """Kafka did not take every record. ``sent`` records were acknowledged before the failure; publishing
    the same submissions again is safe (same event ids; the referral service answers duplicates with their
    original receipt)."""

    def __init__(self, message: str, sent: Sequence[PublishedSubmission]) -> None:
        super().__init__(message)
        self.sent = tuple(sent)


class ReceiptTimeout(ContractError, TimeoutError):
    """No receipt arrived in time for these keys."""

    def __init__(self, missing: Sequence[ReceiptKey]) -> None:
        self.missing = tuple(missing)
        super().__init__(f"no receipt yet for {len(self.missing)} submission(s)")


@dataclass(frozen=True)
class PublishedSubmission:
    """A submission Kafka acknowledged: where it is and what it was."""

    record: IntakeRecord
    topic: str
    key: str
    partition: int
    offset: int

    @property
    def event_id(self) -> UUID:
        return self.record.envelope.event_id

    @property
    def submission_type(self) -> str:
        return self.record.avro_name

    @property
    def ref(self) -> str:
        return submission_ref(self.record)


# ---------------------------------------------------------------------------------------------- envelope


def submission_ref(record: IntakeRecord) -> str:
    """The agency's own reference a submission carries (its receipt's ``submission_ref``)."""
    if isinstance(record, ReferralSubmission | ReferralResponse | ReferralWithdrawal):
        return record.referral_ref
    if isinstance(record, AssessmentRecord):
        return record.assessment_ref
    if isinstance(record, ContactRecord):
        return record.contact_ref
    return record.statement_ref


def occurred_at_of(record: IntakeRecord) -> datetime:
    """When the submitted fact happened in the world (the envelope's ``occurred_at``)."""
    if isinstance(record, ReferralSubmission):
        return record.referred_at
    if isinstance(record, ReferralResponse):
        return record.responded_at
    if isinstance(record, ReferralWithdrawal):
        return record.withdrawn_at
    if isinstance(record, AssessmentRecord | ContactRecord):
        return record.occurred_at
    return record.valid_from


def subject_of(record: IntakeRecord, agency: str) -> RecordRef | None:
    """The envelope's subject: the agency's record of the person, for records that carry a person."""
    if isinstance(record, ReferralSubmission | AssessmentRecord | ContactRecord | ConsentStatement):
        return RecordRef(agency=agency, local_person_id=record.subject.local_person_id)
    return None


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    raise TypeError(f"cannot hash a {type(value).__name__}")


def content_digest(record: IntakeRecord) -> str:
    """SHA-256 (hex) of the record's fields without the envelope, in a canonical JSON form (keys sorted,
    times in UTC), so the same content always hashes the same whatever offset its times were written with."""
    body = record.model_dump(exclude={"envelope"})
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical)
    return hashlib.sha256(text.encode()).hexdigest()


def submission_event_id(record: IntakeRecord, agency: str) -> UUID:
    """The deterministic event id of a submission: UUIDv5 of (agency, short name, own ref, content hash)."""
    return event_id_for(agency, record.short_name(), submission_ref(record), content_digest(record))


# ---------------------------------------------------------------------------------------------- building


def _path(location: Sequence[int | str]) -> str:
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class SubmissionBuilder:
    """Validates drafts and fills their envelopes for one agency. Pure apart from the clock."""

    def __init__(self, agency: str, *, clock: Clock | None = None, vocab: Vocabularies | None = None) -> None:
        self.vocab = vocab or vocabularies()
        if agency not in self.vocab.agencies:
            raise ValueError(f"{agency!r} is not an agency of the vocabulary")
        self.agency = agency
        self.clock = clock or (lambda: datetime.now(UTC))

    def build(self, item: Draft | Mapping[str, Any] | IntakeRecord) -> IntakeRecord:
        """A complete, checked record ready to send; :class:`InvalidSubmission` listing every problem."""
        draft = self._draft(item)
        record = self._validated(draft)
        problems = self._problems(record, draft)
        if problems:
            raise InvalidSubmission(problems)
        return self._with_envelope(record, draft)

    def build_all(self, items: Iterable[Draft | Mapping[str, Any] | IntakeRecord]) -> list[IntakeRecord]:
        """Build every item or none: :class:`InvalidSubmission` lists the problems of all bad items (with
        their line numbers when the items are drafts from a file)."""
        built: list[IntakeRecord] = []
        problems: list[Problem] = []
        for item in items:
            try:
                built.append(self.build(item))
            except InvalidSubmission as exc:
                problems.extend(exc.problems)
        if problems:
            raise InvalidSubmission(problems)
        return built

    def _draft(self, item: Draft | Mapping[str, Any] | IntakeRecord) -> Draft:
        if isinstance(item, Draft):
            return item
        if isinstance(item, Mapping):
            return draft_from_dict(item)
        envelope = item.envelope
        return Draft(
            type(item),
            item.model_dump(exclude={"envelope"}),
            correlation_id=envelope.correlation_id,
            causation_id=envelope.causation_id,
            source_agency=envelope.source_agency,
        )

    def _validated(self, draft: Draft) -> IntakeRecord:
        placeholder = Envelope(
            event_id=_PLACEHOLDER_ID,
            event_type=draft.model.short_name(),
            occurred_at=_PLACEHOLDER_TIME,
            recorded_at=_PLACEHOLDER_TIME,
            source_agency=self.agency,
            correlation_id="",
            schema_fingerprint="",
        )
        try:
            return draft.model.model_validate({**draft.fields, "envelope": placeholder})
        except ValidationError as exc:
            raise InvalidSubmission(
                Problem(_path(error["loc"]), error["msg"], draft.line)
                for error in exc.errors(include_input=False, include_url=False, include_context=False)
            ) from None

    def _problems(self, record: IntakeRecord, draft: Draft) -> list[Problem]:
        problems: list[Problem] = []
        if draft.source_agency is not None and draft.source_agency != self.agency:
            problems.append(
                Problem(
                    "envelope.source_agency", f"must be the publishing agency ({self.agency})", draft.line
                )
            )
        for unknown in unknown_codes(record, self.vocab):
            if unknown.field.startswith("envelope."):
                continue
            problems.append(
                Problem(unknown.field, unknown.describe().removeprefix(unknown.field + " "), draft.line)
            )
        subject = getattr(record, "subject", None)
        if subject is not None:
            if subject.nhs_number is not None and not nhs_number_is_valid(subject.nhs_number):
                problems.append(
                    Problem(
                        "subject.nhs_number",
                        "is not a valid NHS number (10 digits, mod-11 check)",
                        draft.line,
                    )
                )
            if subject.ni_number is not None and not ni_number_is_valid(subject.ni_number):
                problems.append(
                    Problem("subject.ni_number", "is not a valid National Insurance number", draft.line)
                )
        return problems

    def _with_envelope(self, record: IntakeRecord, draft: Draft) -> IntakeRecord:
        event_id = submission_event_id(record, self.agency)
        envelope = envelope_for(
            type(record),
            event_id=event_id,
            occurred_at=occurred_at_of(record),
            recorded_at=self.clock(),
            source_agency=self.agency,
            correlation_id=draft.correlation_id or str(event_id),
            causation_id=draft.causation_id,
            subject=subject_of(record, self.agency),
        )
        return record.model_copy(update={"envelope": envelope})


# ---------------------------------------------------------------------------------------------- publishing


class AgencyPublisher:
    """Publishes one agency's submissions and reads its receipts.

    ``topic_names`` maps catalog topic names to the real ones (tests use prefixed topics); by default the
    catalog names are used. Topics are never auto-created: the catalog (``joinedup topics apply``) owns them.
    ``producer_options`` override the kafka-python producer's settings. Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        agency: str,
        bootstrap: str,
        topic_names: Mapping[str, str] | None = None,
        *,
        clock: Clock | None = None,
        client_id: str | None = None,
        codec: Codec | None = None,
        watch_receipts: bool = True,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.builder = SubmissionBuilder(agency, clock=clock)
        self.agency = agency
        self.bootstrap = bootstrap
        names = topic_names or {}
        self.intake_topic = names.get(intake_topic(agency), intake_topic(agency))
        self.receipts_topic = names.get(receipts_topic(agency), receipts_topic(agency))
        self.client_id = client_id or f"joinedup-sdk-{agency}"
        self.codec = codec or default_codec()
        self.watch_receipts = watch_receipts
        self.producer_options = {"allow_auto_create_topics": False, **(producer_options or {})}
        self.undecodable_receipts = 0
        """Records on the receipts topic that were not receipts this SDK could decode (skipped)."""
        self._producer: KafkaProducer | None = None
        self._consumer: KafkaConsumer | None = None
        self._received: list[Receipt] = []
        self._by_cause: dict[UUID, Receipt] = {}
        self._by_ref: dict[str, Receipt] = {}

    # -------------------------------------------------------------------- lifecycle
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _the_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = kafka_clients.producer(self.bootstrap, self.client_id, **self.producer_options)
        return self._producer

    # -------------------------------------------------------------------- building and sending
    def prepare(self, item: Draft | Mapping[str, Any] | IntakeRecord) -> IntakeRecord:
        """Validate and fill the envelope (see :class:`SubmissionBuilder`); nothing is sent."""
        return self.builder.build(item)

    def prepare_all(self, items: Iterable[Draft | Mapping[str, Any] | IntakeRecord]) -> list[IntakeRecord]:
        return self.builder.build_all(items)

    def publish(
        self, item: Draft | Mapping[str, Any] | IntakeRecord, timeout_s: float = 30.0
    ) -> PublishedSubmission:
        """Validate (raising :class:`InvalidSubmission` before anything is sent), fill the envelope, send,
        and wait for Kafka's acknowledgement."""
        return self.send([self.prepare(item)], timeout_s=timeout_s)[0]

    def publish_many(
        self,
        items: Iterable[Draft | Mapping[str, Any] | IntakeRecord],
        *,
        batch_size: int = 500,
        timeout_s: float = 60.0,
        on_sent: Callable[[int], None] | None = None,
    ) -> list[PublishedSubmission]:
        """Validate every item first (one bad item: :class:`InvalidSubmission`, nothing sent), then send
        them in batches."""
        return self.send(self.prepare_all(items), batch_size=batch_size, timeout_s=timeout_s, on_sent=on_sent)

    def send(
        self,
        records: Sequence[IntakeRecord],
        *,
        batch_size: int = 500,
        timeout_s: float = 60.0,
        on_sent: Callable[[int], None] | None = None,
    ) -> list[PublishedSubmission]:
        """Send records built by :meth:`prepare` as they are, in batches, each batch acknowledged before the
        next; ``on_sent(n)`` after each batch. :class:`PublishError` if Kafka refuses or times out."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.watch_receipts:
            self.watch()
        producer = self._the_producer()
        published: list[PublishedSubmission] = []
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            try:
                pending = []
                for record in batch:
                    key = intake_key(record, self.agency)
                    future = producer.send(
                        self.intake_topic,
                        key=key.encode(),
                        value=self.codec.encode(record),
                        headers=cloudevents_headers(record),
                    )
                    pending.append((record, key, future))
                producer.flush(timeout=timeout_s)
                for record, key, future in pending:
                    metadata = future.get(timeout=timeout_s)
                    published.append(
                        PublishedSubmission(record, metadata.topic, key, metadata.partition, metadata.offset)
                    )
            except KafkaError as exc:
                raise PublishError(
                    f"Kafka did not acknowledge a submission to {self.intake_topic}: {type(exc).__name__}",
                    published,
                ) from exc
            if on_sent is not None:
                on_sent(len(batch))
        return published

    # -------------------------------------------------------------------- receipts
    def watch(self, *, from_beginning: bool = False) -> None:
        """Start reading the receipts topic: from its current end (the default, so only receipts for what
        this publisher sends next are seen) or from the beginning. Sending calls it when
        ``watch_receipts`` is on; calling it again does nothing."""
        if self._consumer is not None:
            return
        consumer = kafka_clients.consumer(
            self.bootstrap, None, f"{self.client_id}-receipts", allow_auto_create_topics=False
        )
        partitions = consumer.partitions_for_topic(self.receipts_topic)
        if not partitions:
            consumer.close()
            raise ContractError(f"the receipts topic {self.receipts_topic} does not exist")
        assigned = [TopicPartition(self.receipts_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_beginning:
            consumer.seek_to_beginning(*assigned)
        else:
            for tp, offset in consumer.end_offsets(assigned).items():
                consumer.seek(tp, offset)
        self._consumer = consumer

    def receipts(self, timeout_s: float = 1.0) -> list[Receipt]:
        """Every receipt read since :meth:`watch`, after reading for up to ``timeout_s`` more."""
        self.watch()
        deadline = time.monotonic() + timeout_s
        while self._poll(deadline):
            pass
        return list(self._received)

    def wait_for_receipt(self, key: ReceiptKey | PublishedSubmission, timeout_s: float = 30.0) -> Receipt:
        """The receipt of one submission (by its published record, event id or own reference);
        :class:`ReceiptTimeout` if none arrives in time."""
        found = self.wait_for_receipts([key], timeout_s)
        if not found:
            raise ReceiptTimeout([_key(key)])
        return next(iter(found.values()))

    def wait_for_receipts(
        self, keys: Iterable[ReceiptKey | PublishedSubmission], timeout_s: float = 30.0
    ) -> dict[ReceiptKey, Receipt]:
        """The receipts that arrive within ``timeout_s`` for these submissions, by key (an event id for a
        published submission). Missing keys are simply absent: compare lengths, or use
        :meth:`wait_for_receipt` to get :class:`ReceiptTimeout`."""
        self.watch()
        wanted = [_key(k) for k in keys]
        deadline = time.monotonic() + timeout_s
        while True:
            found = {k: r for k in wanted if (r := self._lookup(k)) is not None}
            if len(found) == len(set(wanted)) or not self._poll(deadline):
                return found

    def _lookup(self, key: ReceiptKey) -> Receipt | None:
        if isinstance(key, UUID):
            return self._by_cause.get(key)
        try:
            return self._by_cause.get(UUID(key)) or self._by_ref.get(key)
        except ValueError:
            return self._by_ref.get(key)

    def _poll(self, deadline: float) -> bool:
        """Read one batch (waiting at most until ``deadline``); False once the deadline has passed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self._consumer is None:
            return False
        batches = self._consumer.poll(timeout_ms=max(1, int(min(remaining, 0.5) * 1000)), max_records=500)
        for tp in sorted(batches, key=lambda t: t.partition):
            for message in batches[tp]:
                self._take(message.value or b"")
        return True

    def _take(self, payload: bytes) -> None:
        try:
            receipt = self.codec.decode(payload)
        except DecodeError:
            self.undecodable_receipts += 1
            return
        if not isinstance(receipt, SubmissionAccepted | SubmissionRejected):
            self.undecodable_receipts += 1
            return
        self._received.append(receipt)
        if receipt.envelope.causation_id is not None:
            self._by_cause[receipt.envelope.causation_id] = receipt
        if receipt.submission_ref is not None:
            self._by_ref[receipt.submission_ref] = receipt


def _key(key: ReceiptKey | PublishedSubmission) -> ReceiptKey:
    return key.event_id if isinstance(key, PublishedSubmission) else key
