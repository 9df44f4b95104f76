"""Consumer lag and worker memory over time (R8): a thread that samples, every few seconds, the intake
topics' end offsets against the offsets the referral shard stores have committed (the runtime keeps its
offsets there, not in Kafka), the rows waiting in the outboxes, and the worker process's resident memory.
Also a ``check`` for large runs: the harness's, keeping output ids only, with longer read timeouts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from joinedup.contract.kafka import consumer
from joinedup.contract.serde import default_codec

from .harness import (
    Ledger,
    OutputId,
    Outputs,
    Report,
    Workers,
    compare,
    count_output,
    output_topics,
    read_log,
    reference_fold,
)


@dataclass(frozen=True)
class Sample:
    at_s: float
    """Seconds since the sampler started."""
    end: int
    """Records on the intake topics."""
    consumed: int
    """Records the shard stores have committed."""
    outbox: int
    """Rows waiting in the outboxes."""
    rss_mb: float

    @property
    def lag(self) -> int:
        return max(0, self.end - self.consumed)


def rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    """A process's resident memory (``VmRSS``) or its peak (``VmHWM``), in MiB; 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return 0.0
    return 0.0


@dataclass
class LagSampler:
    bootstrap: str
    topics: Sequence[str]
    workers: Workers
    worker: str = "a"
    every_s: float = 2.0
    samples: list[Sample] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    """The worker's VmHWM at the last sample (its peak resident memory so far)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _started: float = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def _run(self) -> None:
        reader: KafkaConsumer = consumer(self.bootstrap, None, "reliability-lag")
        try:
            tps = [
                TopicPartition(t, p)
                for t in sorted(set(self.topics))
                for p in sorted(reader.partitions_for_topic(t) or ())
            ]
            while not self._stop.is_set():
                end = sum(reader.end_offsets(tps).values())
                consumed, outbox = self.workers.progress(self.topics)
                proc = self.workers.procs.get(self.worker)
                rss = peak = 0.0
                if proc is not None and proc.poll() is None:
                    rss, peak = rss_mb(proc.pid), rss_mb(proc.pid, "VmHWM")
                self.peak_rss_mb = max(self.peak_rss_mb, peak)
                self.samples.append(Sample(self.elapsed(), end, consumed, outbox, rss))
                self._stop.wait(self.every_s)
        finally:
            reader.close()

    def wait_until(self, done: Callable[[Sample], bool], timeout_s: float) -> float:
        """Wait until a sample taken from now on satisfies ``done`` (reviving a worker that stopped by
        itself); returns the sampler's clock at that sample."""
        seen = len(self.samples)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fresh = self.samples[seen:]
            hit = next((s for s in fresh if done(s)), None)
            if hit is not None:
                return hit.at_s
            self.workers.revive()
            time.sleep(0.2)
        raise AssertionError(f"not reached in {timeout_s} s; last sample {self.latest()}")


def caught_up(sample: Sample) -> bool:
    return sample.lag == 0 and sample.outbox == 0


def lag_table(samples: Sequence[Sample], every_s: float = 15.0) -> list[str]:
    """The samples thinned to one per ``every_s``, as markdown rows: t, lag, outbox, worker RSS."""
    rows = [
        "| t (s) | intake records | consumed | lag | outbox | worker RSS (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    next_at = 0.0
    for s in samples:
        if s.at_s >= next_at or s is samples[-1]:
            rows.append(f"| {s.at_s:.0f} | {s.end} | {s.consumed} | {s.lag} | {s.outbox} | {s.rss_mb:.0f} |")
            next_at = s.at_s + every_s
    return rows


def read_output_ids(
    bootstrap: str, names: Mapping[str, str], agencies: Iterable[str], timeout_s: float
) -> Outputs:
    """The harness's ``read_outputs``, keeping the ids only (not the records: a large run has a million),
    with a read timeout of ``timeout_s``."""
    kinds = output_topics(names, agencies)
    reader: KafkaConsumer = consumer(bootstrap, None, "reliability-output-ids", max_poll_records=5000)
    ids: Counter[OutputId] = Counter()
    errors: dict[str, str] = {}
    codec = default_codec()
    try:
        tps = [
            TopicPartition(t, p) for t in sorted(kinds) for p in sorted(reader.partitions_for_topic(t) or ())
        ]
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = reader.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while any(reader.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, "could not read the outputs to their end"
            for batch in reader.poll(timeout_ms=200).values():
                for m in batch:
                    count_output(kinds[m.topic], m.headers, m.value or b"", ids, errors, codec)
    finally:
        reader.close()
    return Outputs(ids, errors, [])


def check_large(
    scenario: str,
    bootstrap: str,
    names: Mapping[str, str],
    ledger: Ledger,
    group: str,
    recover_s: float | None = None,
    timeout_s: float = 900,
) -> Report:
    """The harness's ``check`` (read the intake log and the outputs, fold, compare), for large logs."""
    log = read_log(bootstrap, ledger.topics(), timeout_s=timeout_s)
    expected = reference_fold(log, ledger.phases(), names, group)
    outputs = read_output_ids(bootstrap, names, ledger.agencies(), timeout_s)
    return compare(scenario, ledger, log, expected, outputs, recover_s)
