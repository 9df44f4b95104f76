"""The reliability harness (issue 9): a ledger of every acknowledged send, the system's outputs read back with
read_committed, a pure reference fold of the ledger, and a report per scenario.

- :class:`LedgerPublisher` sends like an agency system (the contract's idempotent, acks=all producer) and
  keeps a :class:`Ledger` entry for every send Kafka acknowledged: where it landed and in which phase.
- :func:`read_log` reads the intake topics back. Every acked entry must be there; a record that is there with
  no acked entry is *in doubt* (sent by a producer that crashed before it saw the ack): the worker sees it, so
  the fold includes it, and the report counts it apart.
- :func:`reference_fold` runs the referral service's pure shard handler (``IntakeShardHandler`` over the
  in-memory store, one state per shard as the worker keeps) over the log in the order the worker sees it: per
  shard, the contract's deterministic merge of its intake partitions (by broker timestamp, catalog topic,
  partition, offset; :mod:`joinedup.contract.ordered_merge`). A record that does not decode expects a dead
  letter with its error class. The result: the output ids (canonical events, receipts, dead letters) each
  input causes.
- :func:`read_outputs` reads the canonical, receipts and dead-letter topics (read_committed) up to their end.
- :func:`compare` gives the :class:`Report`: acked, reflected, lost, duplicated, phantom, dead-lettered, time
  to recover. Pass = zero lost, zero duplicated, zero phantom.
- :class:`Workers` runs referral worker processes (so they can be killed with SIGKILL) and tells when they
  have caught up (every input consumed, every outbox empty), reading the shard stores read-only.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from joinedup.contract.dead_letters import dead_letter_for
from joinedup.contract.errors import DecodeError
from joinedup.contract.kafka import admin_client, apply_topics, consumer, producer
from joinedup.contract.keys import IntakeRecord, intake_key
from joinedup.contract.models import intake as contract_intake
from joinedup.contract.models.deadletter import DeadLetter
from joinedup.contract.models.event import Event
from joinedup.contract.ordered_merge import OrderedMerge, RawRecord
from joinedup.contract.serde import Codec, default_codec
from joinedup.contract.streams import Datum, Input, Output, ShardHandler
from joinedup.contract.topics import DEAD_LETTER, REFERRAL_EVENTS, catalog, intake_topic, receipts_topic
from joinedup.referral.adapters.intake_stream import IntakeShardHandler
from joinedup.referral.adapters.store_memory import MemoryReferralStore
from joinedup.referral.app.reference import default_reference_data
from joinedup.referral.app.testing import (
    a_contact,
    a_person,
    a_referral,
    a_response,
    a_withdrawal,
    an_assessment,
)
from joinedup.referral.bootstrap import ReferralSettings, runtime_config
from joinedup.referral.domain.submissions import Submission

Coords = tuple[str, int, int]
"""(real topic, partition, offset) of an input."""
OutputId = tuple[str, str]
"""(catalog topic kind, event id) of an output: ``events``, ``receipts`` or ``dead-letter``."""


# ---------------------------------------------------------------- the workload


REFERRERS = ("probation", "police", "nhs-mh-trust", "youth-offending")
RECEIVERS = ("council-housing", "council-asc", "jobcentre")
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC) - timedelta(days=1)


def to_contract(submission: Submission) -> IntakeRecord:
    """A domain sample submission as the contract's intake record (what an agency publishes)."""
    model: Any = getattr(contract_intake, type(submission).__name__)
    record: IntakeRecord = model.model_validate(submission.model_dump())
    return record


@dataclass
class Workload:
    """Submissions per phase, in publication order. Within a phase the workload does not depend on the order
    across intake topics (the worker interleaves them as the fetches come); phase 2 is published after phase
    1 has been processed (responses and assessments answer phase 1's referrals)."""

    phases: list[list[tuple[str, IntakeRecord]]] = field(default_factory=lambda: [[], []])

    def add(self, phase: int, agency: str, submission: Submission) -> None:
        self.phases[phase].append((agency, to_contract(submission)))

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.phases)


def referral_workload(seed: int, referrals: int, *, invalid: bool = True) -> Workload:
    """Referrals (some duplicated, some withdrawn, some with an invalid NHS number when ``invalid``) and
    contacts in phase 1; accepts and scheduled assessments for the live referrals in phase 2."""
    rng = random.Random(seed)
    work = Workload()
    live: list[tuple[str, str, str]] = []
    for i in range(referrals):
        by, to, ref = REFERRERS[i % len(REFERRERS)], RECEIVERS[i % len(RECEIVERS)], f"R-{seed}-{i}"
        person = a_person(f"P-{i}")
        if invalid and rng.random() < 0.04:
            person = a_person(f"P-{i}", nhs_number="9434765918")  # fails the mod-11 check: rejected
        referral = a_referral(ref, by=by, at=AT, to_agency=to, subject=person)
        work.add(0, by, referral)
        if rng.random() < 0.05:
            work.add(0, by, referral)  # sent twice: the second is a duplicate
        if rng.random() < 0.1:
            work.add(0, by, a_withdrawal(ref, by=by, at=AT))
        else:
            live.append((by, to, ref))
        if i % 3 == 0:
            work.add(0, "police", a_contact(f"C-{seed}-{i}", at=AT, subject=a_person(f"PN-{i}")))
    for n, (by, to, ref) in enumerate(live):
        work.add(1, to, a_response("accept", ref, by=to, referrer=by, at=AT))
        if n % 2 == 0:
            work.add(
                1,
                to,
                an_assessment(
                    "scheduled", f"A-{seed}-{n}", by=to, under=(by, ref), at=AT, assessment_type="hra-s189a"
                ),
            )
    return work


# ---------------------------------------------------------------- the ledger


@dataclass(frozen=True)
class Acked:
    """One send Kafka acknowledged."""

    agency: str
    topic: str
    partition: int
    offset: int
    phase: int

    @property
    def coords(self) -> Coords:
        return (self.topic, self.partition, self.offset)


@dataclass
class Ledger:
    entries: list[Acked] = field(default_factory=list)

    def add(self, entry: Acked) -> None:
        self.entries.append(entry)

    def __len__(self) -> int:
        return len(self.entries)

    def phases(self) -> dict[Coords, int]:
        return {e.coords: e.phase for e in self.entries}

    def topics(self) -> list[str]:
        return sorted({e.topic for e in self.entries})

    def agencies(self) -> list[str]:
        return sorted({e.agency for e in self.entries})


class LedgerPublisher:
    """Publishes like agency systems do (each on its own intake topic, keyed by ``intake_key``) and records
    every acknowledged send in the ledger."""

    def __init__(self, bootstrap: str, topics: Mapping[str, str], ledger: Ledger) -> None:
        self.topics = topics
        self.ledger = ledger
        self._producer: KafkaProducer = producer(bootstrap, "reliability-agencies", linger_ms=20)
        self._pending: list[tuple[str, int, Any]] = []

    def publish(self, agency: str, record: IntakeRecord, phase: int = 0) -> None:
        self.publish_raw(agency, intake_key(record, agency).encode(), default_codec().encode(record), phase)

    def publish_raw(self, agency: str, key: bytes, value: bytes, phase: int = 0) -> None:
        future = self._producer.send(self.topics[intake_topic(agency)], value=value, key=key)
        self._pending.append((agency, phase, future))

    def publish_phase(self, work: Workload, phase: int) -> None:
        for agency, record in work.phases[phase]:
            self.publish(agency, record, phase)
        self.flush()

    def flush(self) -> None:
        """Wait for every ack; each acked send goes in the ledger (a send that fails raises)."""
        self._producer.flush(timeout=120)
        pending, self._pending = self._pending, []
        for agency, phase, future in pending:
            meta = future.get(timeout=60)
            self.ledger.add(Acked(agency, meta.topic, meta.partition, meta.offset, phase))

    def close(self) -> None:
        self._producer.close(timeout=10)


# ---------------------------------------------------------------- reading topics


@dataclass(frozen=True)
class LogRecord:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def coords(self) -> Coords:
        return (self.topic, self.partition, self.offset)


def read_log(bootstrap: str, topics: Iterable[str], timeout_s: float = 60) -> list[LogRecord]:
    """Every committed record of ``topics`` up to their current end (read_committed), in partition order."""
    reader: KafkaConsumer = consumer(bootstrap, None, "reliability-reader", max_poll_records=5000)
    try:
        tps: list[TopicPartition] = []
        for topic in sorted(set(topics)):
            deadline = time.monotonic() + 30
            parts = reader.partitions_for_topic(topic)
            while not parts and time.monotonic() < deadline:
                time.sleep(0.2)
                parts = reader.partitions_for_topic(topic)
            assert parts, f"no partitions for {topic}"
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        out: list[LogRecord] = []
        deadline = time.monotonic() + timeout_s
        while any(reader.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, "could not read the topics to their end"
            for batch in reader.poll(timeout_ms=200).values():
                out.extend(
                    LogRecord(
                        m.topic, m.partition, m.offset, m.timestamp, m.key, m.value or b"", tuple(m.headers)
                    )
                    for m in batch
                )
        out.sort(key=lambda r: r.coords)
        return out
    finally:
        reader.close()


@dataclass(frozen=True)
class Outputs:
    """The ids read back per output kind (``events``, ``receipts``, ``dead-letter``), with how often each
    came, and the error class of each dead letter."""

    ids: Counter[OutputId]
    dead_letter_errors: dict[str, str]
    records: list[LogRecord]


def output_topics(
    names: Mapping[str, str], agencies: Iterable[str], events: str = REFERRAL_EVENTS
) -> dict[str, str]:
    """Real output topic -> its kind; ``events`` is the service's canonical events topic (catalog name)."""
    kinds = {names[events]: "events", names[DEAD_LETTER]: "dead-letter"}
    kinds.update((names[receipts_topic(a)], "receipts") for a in agencies)
    return kinds


def count_output(
    kind: str,
    headers: Iterable[tuple[str, bytes]],
    value: bytes,
    ids: Counter[OutputId],
    errors: dict[str, str],
    codec: Codec,
) -> None:
    """Count one output record of ``kind`` in ``ids`` (and, for a dead letter, its error class in
    ``errors``)."""
    event_id = dict(headers)["ce_id"].decode()
    ids[(kind, event_id)] += 1
    if kind == "dead-letter":
        letter = codec.decode(value)
        assert isinstance(letter, DeadLetter)
        errors[event_id] = letter.error_class


def read_outputs(
    bootstrap: str, names: Mapping[str, str], agencies: Iterable[str], events: str = REFERRAL_EVENTS
) -> Outputs:
    """The ``events`` topic (catalog name), the agencies' receipts and the dead letters, read back
    (read_committed)."""
    kinds = output_topics(names, agencies, events)
    records = read_log(bootstrap, kinds)
    ids: Counter[OutputId] = Counter()
    errors: dict[str, str] = {}
    codec = default_codec()
    for r in records:
        count_output(kinds[r.topic], r.headers, r.value, ids, errors, codec)
    return Outputs(ids, errors, records)


# ---------------------------------------------------------------- the reference fold


@dataclass(frozen=True)
class Expected:
    """What each input causes: its output ids (and, for a dead letter, the error class)."""

    by_input: dict[Coords, list[OutputId]]
    dead_letter_errors: dict[str, str]

    def counts(self) -> Counter[OutputId]:
        return Counter(o for outs in self.by_input.values() for o in outs)


def _kind(catalog_topic: str) -> str:
    if catalog_topic == REFERRAL_EVENTS:
        return "events"
    if catalog_topic == DEAD_LETTER:
        return "dead-letter"
    return "receipts"


def _output_id(output: Output) -> OutputId:
    record = output.record
    if isinstance(record, Datum):
        return (_kind(output.topic), record.event_id)
    assert isinstance(record, Event)
    return (_kind(output.topic), str(record.envelope.event_id))


def shard_store_progress(stores: Iterable[Path], topics: Sequence[str]) -> tuple[int, int]:
    """(records of ``topics`` the shard stores committed as consumed, outbox rows waiting), read-only; a store
    whose tables are not there yet counts nothing."""
    consumed = pending = 0
    marks = ",".join("?" * len(topics))
    for path in stores:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute(
                f"SELECT coalesce(sum(next_offset), 0) FROM consumed_offsets WHERE topic IN ({marks})",
                list(topics),
            ).fetchone()
            consumed += int(row[0])
            pending += int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except sqlite3.OperationalError:  # the tables are not there yet
            pass
        finally:
            db.close()
    return consumed, pending


def fold_record(
    r: LogRecord,
    codec: Codec,
    handler: ShardHandler,
    topic: str,
    group: str,
    output_id: Callable[[Output], OutputId] = _output_id,
) -> tuple[list[OutputId], str | None]:
    """One log record through a shard handler, as the runtime treats it: the ids of its outputs, or of the
    dead letter it becomes (bytes that do not decode, or a handler that raises) with that error's class.
    ``topic`` is the record's catalog topic name; ``group`` the worker's consumer group (dead-letter ids
    derive from it)."""
    failure: BaseException | None = None
    try:
        record = codec.decode(r.value)
    except DecodeError as error:
        failure = error
    else:
        item = Input(topic, r.partition, r.offset, r.timestamp_ms, r.key, record)
        try:
            return [output_id(o) for o in handler.handle([item])], None
        except Exception as error:
            failure = error
    letter = dead_letter_for(
        failure,
        source_topic=r.topic,
        source_partition=r.partition,
        source_offset=r.offset,
        source_timestamp_ms=r.timestamp_ms,
        key=r.key,
        payload=r.value,
        consumer_group=group,
    )
    return [("dead-letter", str(letter.envelope.event_id))], letter.error_class


def merge_order(
    log: Sequence[LogRecord], phases: Mapping[Coords, int], names: Mapping[str, str]
) -> list[LogRecord]:
    """``log`` in the order the worker handles it: per shard (partition number), the contract's merge of the
    shard's intake partitions, as over a log read to its end (every partition caught up).

    ``phases`` gives each acked input's phase (an input in doubt counts in phase 0): a workload publishes a
    phase once the one before has been processed, so with broker timestamps each phase merges after the one
    before. A record that the merge puts before a record of an earlier phase raises: the topics' timestamps
    are not the broker's, and the fold would not be what the worker did."""
    catalog_of = {real: name for name, real in names.items()}
    by_coords = {r.coords: r for r in log}
    ordered: list[LogRecord] = []
    for shard in sorted({r.partition for r in log}):
        records = sorted((r for r in log if r.partition == shard), key=lambda r: r.coords)
        merge = OrderedMerge({(r.topic, r.partition) for r in records}, catalog_of)
        merge.add(RawRecord(r.topic, r.partition, r.offset, r.timestamp_ms, r.key, r.value) for r in records)
        released = merge.release(set(merge.partitions), len(records))
        assert len(released) == len(records)
        latest = 0
        for raw in released:
            phase = phases.get((raw.topic, raw.partition, raw.offset), 0)
            assert phase >= latest, (
                f"a phase-{phase} record merges after a phase-{latest} one in shard {shard}"
            )
            latest = phase
            ordered.append(by_coords[(raw.topic, raw.partition, raw.offset)])
    return ordered


def reference_fold(
    log: Sequence[LogRecord], phases: Mapping[Coords, int], names: Mapping[str, str], group: str
) -> Expected:
    """Run the pure shard handler over ``log`` as the worker sees it (one state per shard, each fed in
    :func:`merge_order`). ``phases`` gives each acked input's phase (checked against that order); ``group``
    is the worker's consumer group (dead-letter ids derive from it)."""
    reference = default_reference_data()
    return fold_in_order(
        merge_order(log, phases, names),
        lambda: IntakeShardHandler(MemoryReferralStore(), reference),
        names,
        group,
    )


def fold_in_order(
    ordered: Iterable[LogRecord],
    new_handler: Callable[[], ShardHandler],
    names: Mapping[str, str],
    group: str,
    output_id: Callable[[Output], OutputId] = _output_id,
) -> Expected:
    """:func:`fold_record` over ``ordered``, one handler (made by ``new_handler``) per shard (partition
    number): what each input causes."""
    catalog_of = {real: name for name, real in names.items()}
    codec = default_codec()
    handlers: dict[int, ShardHandler] = defaultdict(new_handler)
    by_input: dict[Coords, list[OutputId]] = {}
    errors: dict[str, str] = {}
    for r in ordered:
        outputs, error_class = fold_record(
            r, codec, handlers[r.partition], catalog_of.get(r.topic, r.topic), group, output_id
        )
        if error_class is not None:
            errors[outputs[0][1]] = error_class
        by_input[r.coords] = outputs
    return Expected(by_input, errors)


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Report:
    scenario: str
    acked: int
    in_doubt: int
    reflected: int
    lost: int
    duplicated: int
    phantom: int
    dead_lettered: int
    recover_s: float | None
    outputs: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.phantom == 0

    def row(self) -> str:
        recover = "—" if self.recover_s is None else f"{self.recover_s:.1f} s"
        return (
            f"| {self.scenario} | {self.acked} | {self.in_doubt} | {self.reflected} | {self.lost} | "
            f"{self.duplicated} | {self.phantom} | {self.dead_lettered} | {recover} | {self.outputs} | "
            f"{'pass' if self.passed else 'FAIL'} |"
        )


REPORT_HEADER = (
    "| scenario | acked | in doubt | reflected | lost | duplicated | phantom | dead-lettered "
    "| time to recover | outputs | result |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def compare(
    scenario: str,
    ledger: Ledger,
    log: Sequence[LogRecord],
    expected: Expected,
    outputs: Outputs,
    recover_s: float | None = None,
) -> Report:
    """Acked sends against what the system published. An acked send is *reflected* when it is in the intake
    log and every output the fold expects of it was published; *lost* otherwise. An output published more
    often than the fold produces it is *duplicated*; one the fold never produces is *phantom* (no acked or
    in-doubt cause)."""
    in_log = {r.coords for r in log}
    acked = {e.coords for e in ledger.entries}
    want = expected.counts()
    got = outputs.ids
    reflected = sum(1 for c in acked if c in in_log and all(got[o] > 0 for o in expected.by_input.get(c, [])))
    duplicated = sum(max(0, n - want[o]) for o, n in got.items() if o in want)
    phantom = sum(n for o, n in got.items() if o not in want)
    wrong_class = sorted(
        i for i, cls in outputs.dead_letter_errors.items() if expected.dead_letter_errors.get(i) != cls
    )
    missing = sum(max(0, n - got[o]) for o, n in want.items())
    return Report(
        scenario=scenario,
        acked=len(acked),
        in_doubt=len(in_log - acked),
        reflected=reflected,
        lost=len(acked) - reflected,
        duplicated=duplicated,
        phantom=phantom,
        dead_lettered=sum(n for (kind, _), n in got.items() if kind == "dead-letter"),
        recover_s=recover_s,
        outputs=sum(got.values()),
        detail={
            "missing_outputs": missing,
            "acked_not_in_log": len(acked - in_log),
            "dead_letters_with_the_wrong_error_class": len(wrong_class),
            "by_kind": _by_kind(got),
            "duplicated_by_kind": _by_kind(
                Counter({o: n - want[o] for o, n in got.items() if o in want and n > want[o]})
            ),
        },
    )


def _by_kind(ids: Counter[OutputId]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for (kind, _), n in ids.items():
        counts[kind] += n
    return dict(sorted(counts.items()))


def check(
    scenario: str,
    bootstrap: str,
    names: Mapping[str, str],
    ledger: Ledger,
    group: str,
    recover_s: float | None = None,
) -> Report:
    """Read the intake log and the outputs, fold, compare."""
    log = read_log(bootstrap, ledger.topics())
    expected = reference_fold(log, ledger.phases(), names, group)
    outputs = read_outputs(bootstrap, names, ledger.agencies())
    return compare(scenario, ledger, log, expected, outputs, recover_s)


# ---------------------------------------------------------------- topics and referral worker processes


def fresh_topics(bootstrap: str, *, copy: bool = False) -> tuple[str, dict[str, str]]:
    """The catalog's topics under a fresh prefix. For a ``copy`` of a log, every topic keeps the producer's
    timestamps, so a record copied with its original (broker) timestamp keeps it."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    renamed = catalog().renamed(prefix)
    if copy:
        renamed = {name: spec.model_copy(update={"timestamps": "producer"}) for name, spec in renamed.items()}
    admin = admin_client(bootstrap)
    try:
        assert apply_topics(admin, renamed.values()).ok
    finally:
        admin.close()
    return prefix, {original: spec.name for original, spec in renamed.items()}


def referral_group(prefix: str) -> str:
    """The referral worker's consumer group on ``prefix``-ed topics (dead-letter ids derive from it)."""
    return runtime_config(ReferralSettings(topic_prefix=prefix)).group


class Workers:
    """Referral worker processes sharing one data folder and one consumer group; logs go to ``logs``."""

    def __init__(
        self, bootstrap: str, prefix: str, data_dir: Path, logs: Path, batch_size: int = 250
    ) -> None:
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "JOINEDUP_REFERRAL_DATA_DIR": str(data_dir),
            "JOINEDUP_REFERRAL_TOPIC_PREFIX": prefix,
            "JOINEDUP_REFERRAL_SESSION_TIMEOUT_MS": "6000",
            "JOINEDUP_REFERRAL_BATCH_SIZE": str(batch_size),
        }
        self.data_dir = data_dir
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started = 0
        self.revived = 0
        self.kills = 0

    def start(self, name: str = "a") -> None:
        self.started += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"worker-{name}-{self.started}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "joinedup.referral.entrypoints.worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def alive(self, name: str = "a") -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def kill(self, name: str = "a") -> None:
        """SIGKILL: no clean-up of any kind."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            self.kills += 1
        proc.wait(timeout=30)

    def revive(self) -> None:
        """Restart a worker that stopped by itself (a supervisor's job: a worker whose relay gave up, e.g.
        while the broker was down, exits rather than go on without it)."""
        for name, proc in sorted(self.procs.items()):
            if proc.poll() is not None:
                self.revived += 1
                self.start(name)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)

    def stores(self) -> list[Path]:
        return sorted((self.data_dir / "referral").glob("shard-*.sqlite"))

    def progress(self, topics: Sequence[str]) -> tuple[int, int]:
        """(records consumed, outbox rows waiting) over every shard store."""
        return shard_store_progress(self.stores(), topics)

    def wait_caught_up(self, topics: Sequence[str], total: int, timeout_s: float = 180) -> float:
        """Wait until every input is consumed and every outbox is empty (reviving workers that stopped);
        returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            consumed, pending = self.progress(topics)
            if consumed >= total and pending == 0:
                return time.monotonic() - started
            self.revive()
            time.sleep(0.2)
        raise AssertionError(f"the workers did not catch up: {self.progress(topics)} of {total}")


def intake_total(bootstrap: str, topics: Iterable[str]) -> int:
    """How many records the intake topics hold (offsets are contiguous: agencies do not use transactions)."""
    reader: KafkaConsumer = consumer(bootstrap, None, "reliability-offsets")
    try:
        tps = [
            TopicPartition(t, p)
            for t in sorted(set(topics))
            for p in sorted(reader.partitions_for_topic(t) or ())
        ]
        return sum(reader.end_offsets(tps).values())
    finally:
        reader.close()


__all__ = [
    "REPORT_HEADER",
    "Acked",
    "Expected",
    "Ledger",
    "LedgerPublisher",
    "LogRecord",
    "Outputs",
    "Report",
    "Workers",
    "Workload",
    "check",
    "compare",
    "count_output",
    "fold_in_order",
    "fresh_topics",
    "intake_total",
    "merge_order",
    "read_log",
    "read_outputs",
    "reference_fold",
    "referral_group",
    "referral_workload",
    "to_contract",
]
