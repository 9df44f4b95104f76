"""What the demo prints at the end: figures gathered from the Kafka topics themselves.

Each figure is read from its topic, from the beginning up to the end it had when reading started
(``read_committed``): submissions published (the intake topics), receipts accepted and rejected by reason (the
receipts topics), canonical events (``joinedup.referral.events``), persons resolved
(``joinedup.identity.events``, compared with the generator's truth when a truth file is given), contacts per
person and repeat assessments detected (``joinedup.alerts``). Every figure is gathered defensively: a topic
that does not exist or holds nothing yet counts 0, and a record that does not decode is counted as such and
skipped. The counting functions are pure, so they are tested on records without a broker.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from joinedup.contract import kafka as kafka_clients
from joinedup.contract.errors import DecodeError
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.identity import PersonCreated, PersonsMerged, PersonSplit, RecordLinked
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.models.referral import ContactRecorded
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS, intake_topic, receipts_topic
from joinedup.local.synthetic.city import ExpectedOutcome

RecordKey = tuple[str, str]
"""(agency, local_person_id)."""


# ---------------------------------------------------------------------------------------------- reading


@dataclass
class TopicRead:
    """What one topic held: the decoded records, how many did not decode, and whether it exists."""

    topic: str
    records: list[AvroRecord] = field(default_factory=list)
    undecodable: int = 0
    exists: bool = True
    error: str | None = None


class TopicReader:
    """Reads whole topics with one consumer (a summary reads some 25 topics every few seconds)."""

    def __init__(self, bootstrap: str, *, codec: Codec | None = None, timeout_s: float = 15.0) -> None:
        self.codec = codec or default_codec()
        self.timeout_s = timeout_s
        self._error: str | None = None
        self._consumer: KafkaConsumer | None = None
        try:
            self._consumer = kafka_clients.consumer(
                bootstrap, None, "joinedup-demo-summary", allow_auto_create_topics=False
            )
        except KafkaError as exc:
            self._error = type(exc).__name__

    def read(self, topic: str) -> TopicRead:
        """Every committed record of ``topic`` up to its current end; never raises for a missing topic or
        a broker error (the read says so instead)."""
        found = TopicRead(topic)
        consumer = self._consumer
        if consumer is None:
            found.exists, found.error = False, self._error
            return found
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                found.exists = False
                return found
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            self._drain(consumer, consumer.end_offsets(assigned), found)
        except KafkaError as exc:
            found.error = type(exc).__name__
        return found

    def _drain(self, consumer: KafkaConsumer, ends: Mapping[TopicPartition, int], found: TopicRead) -> None:
        deadline = time.monotonic() + self.timeout_s
        while any(consumer.position(tp) < end for tp, end in ends.items()) and time.monotonic() < deadline:
            batches = consumer.poll(timeout_ms=500, max_records=2000)
            for tp in sorted(batches, key=lambda t: t.partition):
                for message in batches[tp]:
                    if message.offset >= ends[tp]:
                        continue
                    try:
                        found.records.append(self.codec.decode(message.value or b""))
                    except DecodeError:
                        found.undecodable += 1

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()


# ---------------------------------------------------------------------------------------------- counting


def count_by_type(records: Iterable[AvroRecord]) -> Counter[str]:
    """Records per short name (``ReferralReceived``...)."""
    return Counter(r.short_name() for r in records)


@dataclass(frozen=True)
class ReceiptFigures:
    accepted: int
    rejected: Counter[str]
    """By reason code."""

    @property
    def total(self) -> int:
        return self.accepted + sum(self.rejected.values())


def count_receipts(records: Iterable[AvroRecord]) -> ReceiptFigures:
    accepted = 0
    rejected: Counter[str] = Counter()
    for record in records:
        if isinstance(record, SubmissionAccepted):
            accepted += 1
        elif isinstance(record, SubmissionRejected):
            rejected[record.reason_code] += 1
    return ReceiptFigures(accepted, rejected)


def resolve_persons(events: Iterable[AvroRecord]) -> dict[RecordKey, str]:
    """Which person each record belongs to after the identity events, folded in topic order: created and
    linked records join their person, a merge moves the absorbed persons' records, a split moves records."""
    person_of: dict[RecordKey, str] = {}
    for event in events:
        if isinstance(event, PersonCreated | RecordLinked):
            person_of[(event.record.agency, event.record.local_person_id)] = event.person_id
        elif isinstance(event, PersonsMerged):
            absorbed = set(event.absorbed_person_ids)
            for key, person in person_of.items():
                if person in absorbed:
                    person_of[key] = event.person_id
        elif isinstance(event, PersonSplit):
            for move in event.moves:
                person_of[(move.record.agency, move.record.local_person_id)] = move.to_person_id
    return person_of


def persons_created_minus_merged(events: Iterable[AvroRecord]) -> int:
    """PersonCreated events minus the persons PersonsMerged absorbed (the figure the issue asks for)."""
    created = absorbed = 0
    for event in events:
        if isinstance(event, PersonCreated):
            created += 1
        elif isinstance(event, PersonsMerged):
            absorbed += len(event.absorbed_person_ids)
    return created - absorbed


@dataclass(frozen=True)
class IdentityFigures:
    records: int
    """Records placed in a person by the resolver."""
    persons: int
    true_persons: int | None = None
    """How many true persons those records belong to (None without a truth file)."""
    exactly_right: int | None = None
    """True persons whose records the resolver put together in one person of their own."""
    false_merges: int | None = None
    """Resolved persons holding records of more than one true person."""
    false_splits: int | None = None
    """True persons whose records are spread over more than one resolved person."""


def compare_with_truth(
    person_of: Mapping[RecordKey, str], truth: Mapping[RecordKey, str] | None
) -> IdentityFigures:
    """The resolver's partition against the generator's truth, on the records both know."""
    persons = len(set(person_of.values()))
    if not truth:
        return IdentityFigures(len(person_of), persons)
    shared = sorted(k for k in person_of if k in truth)
    resolved: dict[str, set[str]] = defaultdict(set)
    actual: dict[str, set[str]] = defaultdict(set)
    members: dict[str, set[RecordKey]] = defaultdict(set)
    true_members: dict[str, set[RecordKey]] = defaultdict(set)
    for key in shared:
        resolved[person_of[key]].add(truth[key])
        actual[truth[key]].add(person_of[key])
        members[person_of[key]].add(key)
        true_members[truth[key]].add(key)
    exact = sum(
        1
        for true_id, keys in true_members.items()
        if len(actual[true_id]) == 1 and members[next(iter(actual[true_id]))] == keys
    )
    return IdentityFigures(
        records=len(person_of),
        persons=persons,
        true_persons=len(true_members),
        exactly_right=exact,
        false_merges=sum(1 for truths in resolved.values() if len(truths) > 1),
        false_splits=sum(1 for found in actual.values() if len(found) > 1),
    )


@dataclass(frozen=True)
class ContactFigures:
    contacts: int
    persons: int
    """Persons (resolved persons, or records where identity has not placed them) with at least one contact."""
    busiest: str | None
    """The person (or record) with the most contacts: a person id or ``agency/local id``, never a name."""
    busiest_contacts: int
    busiest_agencies: int

    @property
    def mean(self) -> float:
        return self.contacts / self.persons if self.persons else 0.0


def contacts_per_person(events: Iterable[AvroRecord], person_of: Mapping[RecordKey, str]) -> ContactFigures:
    """ContactRecorded events per person (a record the resolver has not placed counts as its own person)."""
    per: Counter[str] = Counter()
    agencies: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if not isinstance(event, ContactRecorded):
            continue
        key = (event.agency, event.subject.local_person_id)
        who = person_of.get(key, f"{key[0]}/{key[1]}")
        per[who] += 1
        agencies[who].add(event.agency)
    if not per:
        return ContactFigures(0, 0, None, 0, 0)
    busiest, most = min(per.items(), key=lambda item: (-item[1], item[0]))
    return ContactFigures(sum(per.values()), len(per), busiest, most, len(agencies[busiest]))


def count_repeat_alerts(records: Iterable[AvroRecord]) -> Counter[str]:
    """Repeat-assessment alerts by equivalence group (one per alert id: a re-emitted alert counts once)."""
    seen: dict[str, str] = {}
    for record in records:
        if isinstance(record, RepeatAssessmentDetected):
            seen.setdefault(record.alert_id, record.equivalence_group)
    return Counter(seen.values())


# ---------------------------------------------------------------------------------------------- the summary


@dataclass
class DemoSummary:
    submissions: Counter[str] = field(default_factory=Counter)
    """Intake records per kind, over the agencies read."""
    receipts: ReceiptFigures = field(default_factory=lambda: ReceiptFigures(0, Counter()))
    canonical: Counter[str] = field(default_factory=Counter)
    persons_net: int = 0
    identity: IdentityFigures = field(default_factory=lambda: IdentityFigures(0, 0))
    contacts: ContactFigures = field(default_factory=lambda: ContactFigures(0, 0, None, 0, 0))
    repeat_alerts: Counter[str] = field(default_factory=Counter)
    undecodable: int = 0
    problems: list[str] = field(default_factory=list)
    """Topics that could not be read (missing, or a broker error): their figures are 0."""


def gather_summary(
    bootstrap: str,
    agencies: Iterable[str],
    *,
    topic_names: Mapping[str, str] | None = None,
    truth: Mapping[RecordKey, str] | None = None,
    timeout_s: float = 15.0,
) -> DemoSummary:
    """Read the topics and count. ``topic_names`` maps catalog names to real ones (prefixed in tests)."""
    names = topic_names or {}
    summary = DemoSummary()
    reader = TopicReader(bootstrap, timeout_s=timeout_s)

    def read(topic: str) -> list[AvroRecord]:
        found = reader.read(names.get(topic, topic))
        summary.undecodable += found.undecodable
        if not found.exists:
            summary.problems.append(f"{topic}: no such topic yet")
        elif found.error is not None:
            summary.problems.append(f"{topic}: {found.error}")
        return found.records

    try:
        _count(summary, read, agencies, truth)
    finally:
        reader.close()
    return summary


def _count(
    summary: DemoSummary,
    read: Callable[[str], list[AvroRecord]],
    agencies: Iterable[str],
    truth: Mapping[RecordKey, str] | None,
) -> None:
    receipts: list[AvroRecord] = []
    for agency in sorted(agencies):
        summary.submissions.update(count_by_type(read(intake_topic(agency))))
        receipts.extend(read(receipts_topic(agency)))
    summary.receipts = count_receipts(receipts)
    canonical = read(REFERRAL_EVENTS)
    summary.canonical = count_by_type(canonical)
    identity = read(IDENTITY_EVENTS)
    summary.persons_net = persons_created_minus_merged(identity)
    person_of = resolve_persons(identity)
    summary.identity = compare_with_truth(person_of, truth)
    summary.contacts = contacts_per_person(canonical, person_of)
    summary.repeat_alerts = count_repeat_alerts(read(ALERTS))


def render_summary(summary: DemoSummary, console: Console) -> None:
    """Print the summary as tables."""
    figures = Table(title="joinedup demo: what happened", show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    figures.add_row("submissions published", str(sum(summary.submissions.values())))
    for kind, n in sorted(summary.submissions.items()):
        figures.add_row(f"  {kind}", str(n))
    figures.add_row("receipts: accepted", str(summary.receipts.accepted))
    figures.add_row("receipts: rejected", str(sum(summary.receipts.rejected.values())))
    for reason, n in sorted(summary.receipts.rejected.items()):
        figures.add_row(f"  {reason}", str(n))
    figures.add_row("canonical events", str(sum(summary.canonical.values())))
    for kind, n in sorted(summary.canonical.items()):
        figures.add_row(f"  {kind}", str(n))
    identity = summary.identity
    figures.add_row("persons resolved (created - merged)", str(summary.persons_net))
    figures.add_row("records placed in a person", str(identity.records))
    if identity.true_persons is not None:
        figures.add_row("  true persons (generator's truth)", str(identity.true_persons))
        figures.add_row("  true persons linked exactly right", str(identity.exactly_right))
        figures.add_row("  false merges / false splits", f"{identity.false_merges} / {identity.false_splits}")
    contacts = summary.contacts
    figures.add_row("contacts", str(contacts.contacts))
    figures.add_row("  per person (mean)", f"{contacts.mean:.1f}")
    if contacts.busiest is not None:
        figures.add_row(
            "  busiest person",
            f"{contacts.busiest}: {contacts.busiest_contacts} contacts, {contacts.busiest_agencies} agencies",
        )
    figures.add_row("repeat assessments detected", str(sum(summary.repeat_alerts.values())))
    for group, n in sorted(summary.repeat_alerts.items()):
        figures.add_row(f"  {group}", str(n))
    if summary.undecodable:
        figures.add_row("records that did not decode", str(summary.undecodable))
    console.print(figures)
    for problem in summary.problems:
        console.print(f"[yellow]note:[/] {problem} (counted as 0)")


def shortfalls(summary: DemoSummary, expected: ExpectedOutcome) -> list[str]:
    """What the pipeline has not reached yet, compared with what the city should produce (empty: all
    reached). ``demo --once`` can poll this until it is empty or a deadline passes."""
    missing: list[str] = []
    receipts = summary.receipts
    wanted = expected.referral_accepted + expected.consent_statements
    if receipts.accepted < wanted:
        missing.append(f"accepted receipts: {receipts.accepted} of {wanted}")
    unplanted = set(receipts.rejected) - set(expected.rejected)
    short = any(receipts.rejected[reason] < n for reason, n in expected.rejected.items())
    if unplanted or short:  # a second run of the same city is rejected again: more is fine
        found = ", ".join(f"{k}={v}" for k, v in sorted(receipts.rejected.items())) or "none"
        planted = ", ".join(f"{k}={v}" for k, v in sorted(expected.rejected.items()))
        missing.append(f"rejections: {found}; planted: {planted}")
    events = sum(summary.canonical.values())
    if events < expected.referral_accepted:
        missing.append(f"canonical events: {events} of {expected.referral_accepted}")
    if summary.identity.records < expected.records:
        missing.append(f"records placed by identity: {summary.identity.records} of {expected.records}")
    if expected.repeat_pairs and not summary.repeat_alerts:
        missing.append("no repeat assessment detected yet")
    return missing
