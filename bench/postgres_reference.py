"""B6: the B1 / B3 workload on a deliberately plain PostgreSQL design, as a ratio beside joinedup's figures.

    .venv/bin/python bench/postgres_reference.py --persons 3000 --rates 50,100,200 --seconds 10

Needs PostgreSQL's server binaries from Debian's packages (``apt-get install postgresql``); no service has to
run: the bench runs ``initdb`` into a temporary directory and its own server on 127.0.0.1 at a free port, and
stops it by its PID at the end. As root, the server runs as ``nobody`` (PostgreSQL refuses root). Kafka is not
used. The design and its simplifications are in bench/pg_reference/ (identity is a deterministic key, the
sharing decision a SQL predicate, the audit not hash-chained).

- B1-like: the synthetic city's submissions (the generator ``joinedup simulate`` publishes, with the same
  envelopes and event ids), each agency on its own connection in submission order, phase 1 then phase 2 (the
  answers to referrals); each submission validated by the referral service's rules and written with its
  derived rows (intake log, record, referral lifecycle, person view item, repeat-assessment alert, consent)
  in one transaction. A submission is in the view when its transaction commits. Two commit policies: one
  commit per submission (a receipt each, group commit across the connections) and one per batch.
  Then a sample is re-sent to show de-duplication changes nothing.
- B3-like: the caseworker read (one SELECT by person + the audit INSERT, one transaction, synchronous_commit
  on) at fixed offered rates, open loop (latency counted from each request's due time, so queueing shows),
  over a small pool of connections; persons drawn uniformly from every record's person key.
The client is psycopg 3 (sync; a thread per connection: it costs less CPU per round trip here than its
asyncio API). CPU per submission / request is given for the client (this process: validation, psycopg) and
the server (the postgres processes), since wall time on this shared machine is noisy. The run also repeats
B1 and B3 at the top rate with synchronous_commit off, to show what waiting for the WAL flush costs
(fdatasync takes about 4 ms on this machine's disk; Kafka's acks=all, by contrast, does not wait for one).
"""

from __future__ import annotations

import argparse
import queue
import random
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as clock_time
from typing import Any

import psycopg
from figures import load_average, percentile
from pg_reference.intake import Incoming, Receipt, process
from pg_reference.our_figures import Latency, OurFigures, parse_latency_option, read_figures
from pg_reference.query import Caller, read_person
from pg_reference.schema import create_schema
from pg_reference.server import PostgresMissing, Server, find_binaries, running_postgres, server_cpu_seconds

from joinedup.local.simulate import unchecked_record
from joinedup.local.synthetic.city import ANSWERS, FIRST_HAND, City, build_city
from joinedup.referral.app.reference import default_reference_data

RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Workload:
    phases: tuple[dict[str, list[Incoming]], ...]
    received_at: datetime
    """The validation's "now": the end of the city's year (its times are relative to it)."""

    @property
    def total(self) -> int:
        return sum(len(items) for phase in self.phases for items in phase.values())


def city_workload(city: City) -> Workload:
    stamp = datetime.combine(city.reference_date, clock_time(23, 59), UTC)
    phases = []
    for phase in (FIRST_HAND, ANSWERS):
        by_agency: dict[str, list[Incoming]] = {}
        for submission in city.submissions:
            if submission.phase != phase:
                continue
            record = unchecked_record(submission, lambda: stamp)
            by_agency.setdefault(submission.agency, []).append(
                Incoming(submission.agency, record.short_name(), record.model_dump(mode="json"))
            )
        phases.append(by_agency)
    return Workload(tuple(phases), stamp)


def load_agreements(connection: psycopg.Connection[Any], city: City) -> None:
    rows = [
        (owner, recipient, purpose, category, a.agreement_id, a.valid_from, a.valid_until)
        for a in city.agreements
        for owner in a.owner_agencies
        for recipient in a.recipient_agencies
        for purpose in a.purposes
        for category in a.data_categories
    ]
    with connection.transaction(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO agreements VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", rows
        )


# ---------------------------------------------------------------------------------------------- B1


@dataclass
class IntakeRun:
    label: str
    submissions: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    commit_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    load_before: str = ""
    load_after: str = ""

    @property
    def per_s(self) -> float:
        return self.submissions / self.elapsed_s


@dataclass
class StreamResult:
    commit_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    retries: int = 0


def agency_stream(
    connection: psycopg.Connection[Any], items: list[Incoming], batch: int, workload: Workload
) -> StreamResult:
    """One agency's submissions in order on its own connection, ``batch`` per transaction."""
    reference = default_reference_data()
    result = StreamResult()
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        while True:
            began = time.perf_counter()
            receipts: list[Receipt] = []
            try:
                with connection.transaction():
                    for incoming in chunk:
                        receipts.append(process(connection, incoming, reference, workload.received_at))
            except RETRYABLE:
                result.retries += 1
                continue
            result.commit_ms.append((time.perf_counter() - began) * 1000)
            break
        for receipt in receipts:
            result.outcomes["accepted" if receipt.accepted else f"rejected {receipt.reason_code}"] += 1
    return result


def connect(server: Server, *, commit_wait: bool = True) -> psycopg.Connection[Any]:
    """A connection; without ``commit_wait``, its commits return before their WAL is flushed."""
    connection = psycopg.connect(server.conninfo)
    if not commit_wait:
        connection.execute("SET synchronous_commit = off")
        connection.commit()
    return connection


def run_intake(
    server: Server, workload: Workload, batch: int, label: str, *, commit_wait: bool = True
) -> IntakeRun:
    """Every agency on its own connection and thread, phase by phase."""
    agencies = sorted({agency for phase in workload.phases for agency in phase})
    connections = {agency: connect(server, commit_wait=commit_wait) for agency in agencies}
    run = IntakeRun(label, submissions=workload.total, load_before=load_average())
    try:
        with ThreadPoolExecutor(max_workers=len(agencies)) as threads:
            client0, server0, t0 = cpu_s(), server_cpu_seconds(server), time.perf_counter()
            for phase in workload.phases:
                streams = [
                    threads.submit(agency_stream, connections[a], items, batch, workload)
                    for a, items in sorted(phase.items())
                ]
                for stream in streams:
                    result = stream.result()
                    run.commit_ms += result.commit_ms
                    run.outcomes += result.outcomes
                    run.retries += result.retries
            run.elapsed_s = time.perf_counter() - t0
            run.client_cpu_s = cpu_s() - client0
            run.server_cpu_s = server_cpu_seconds(server) - server0
    finally:
        for connection in connections.values():
            connection.close()
    run.load_after = load_average()
    return run


def table_counts(connection: psycopg.Connection[Any]) -> dict[str, int]:
    counts = {}
    for table in ("submissions", "records", "referrals", "items", "alerts", "consents"):
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    connection.commit()
    return counts


def resend(server: Server, workload: Workload, count: int) -> tuple[int, int, bool]:
    """Re-send the first ``count`` submissions: (sent, answered as duplicates, tables unchanged)."""
    sample = [i for phase in workload.phases for items in phase.values() for i in items][:count]
    reference = default_reference_data()
    with connect(server) as connection:
        before = table_counts(connection)
        duplicates = 0
        for incoming in sample:
            with connection.transaction():
                receipt = process(connection, incoming, reference, workload.received_at)
            duplicates += receipt.duplicate
        after = table_counts(connection)
    return len(sample), duplicates, before == after


# ---------------------------------------------------------------------------------------------- B3


@dataclass
class QueryRun:
    rate: float
    commit_wait: bool = True
    requests: int = 0
    achieved: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    audited: int = 0
    load_after: str = ""


def audit_rows(server: Server) -> int:
    with connect(server) as connection:
        row = connection.execute("SELECT count(*) FROM access_audit").fetchone()
    return int(row[0]) if row else 0


def run_queries(
    server: Server,
    persons: list[str],
    caller: Caller,
    rate: float,
    seconds: float,
    pool: int,
    seed: int,
    *,
    commit_wait: bool = True,
) -> QueryRun:
    """Open loop: a request is due every 1/rate s and goes to the next free worker thread (``pool`` threads,
    a connection each); its latency runs from its due time, so time spent queueing counts."""
    idle: queue.SimpleQueue[psycopg.Connection[Any]] = queue.SimpleQueue()
    opened = [connect(server, commit_wait=commit_wait) for _ in range(pool)]
    for connection in opened:
        idle.put(connection)
    draw = random.Random(seed)
    run = QueryRun(rate, commit_wait, requests=int(rate * seconds))
    chosen = [draw.choice(persons) for _ in range(run.requests)]

    def one(person: str, due: float) -> tuple[float, int]:
        connection = idle.get()
        try:
            answer = read_person(connection, caller, person, datetime.now(UTC))
        finally:
            idle.put(connection)
        return (time.perf_counter() - due) * 1000, answer.status

    try:
        audited_before = audit_rows(server)
        with ThreadPoolExecutor(max_workers=pool) as threads:
            client0, server0, t0 = cpu_s(), server_cpu_seconds(server), time.perf_counter()
            pending = []
            for n, person in enumerate(chosen):
                due = t0 + n / rate
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                pending.append(threads.submit(one, person, due))
            for request in pending:
                latency, status = request.result()
                run.latencies_ms.append(latency)
                run.statuses[status] += 1
            run.achieved = run.requests / (time.perf_counter() - t0)
            run.client_cpu_s = cpu_s() - client0
            run.server_cpu_s = server_cpu_seconds(server) - server0
        run.audited = audit_rows(server) - audited_before
    finally:
        for connection in opened:
            connection.close()
    run.load_after = load_average()
    return run


# ---------------------------------------------------------------------------------------------- report


def ratio(ours: float | None, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if ours else "see B1/B3"


def report(
    intake_runs: list[IntakeRun],
    dedup: tuple[int, int, bool],
    queries: list[QueryRun],
    ours: OurFigures,
    server: Server,
    city: City,
    pool: int,
    caller: Caller,
) -> None:
    print(f"PostgreSQL {server.version} (Debian package), fresh cluster, fsync on, synchronous_commit on;")
    print(
        f"synthetic city seed {city.seed}, {len(city.population.persons):,} persons, "
        f"{len(city.submissions):,} submissions from {len(city.agencies)} agencies."
    )
    print()
    print("#### B1-like: intake -> person view (validate, de-duplicate, derive rows, commit)")
    print()
    print(
        "| commit policy | submissions/s | commit p50 / p99 | client CPU / submission | "
        "server CPU / submission | load average before → after |"
    )
    print("|---|---:|---:|---:|---:|---|")
    for run in intake_runs:
        print(
            f"| {run.label} | {run.per_s:,.0f} "
            f"| {percentile(run.commit_ms, 0.5):.1f} / {percentile(run.commit_ms, 0.99):.1f} ms"
            f" | {run.client_cpu_s / run.submissions * 1e6:,.0f} µs"
            f" | {run.server_cpu_s / run.submissions * 1e6:,.0f} µs | {run.load_before} → {run.load_after} |"
        )
    outcomes = intake_runs[0].outcomes
    print()
    print(
        f"Outcomes (each run): {dict(sorted(outcomes.items()))}; deadlock retries: "
        f"{', '.join(str(r.retries) for r in intake_runs)}."
    )
    expected = city.expected()
    print(
        f"The city expects {expected.referral_accepted + expected.consent_statements:,} accepted "
        f"and {dict(expected.rejected)} rejected (the lifecycle here is simpler than the referral service's)."
    )
    sent, duplicates, unchanged = dedup
    print(
        f"De-duplication: re-sent {sent:,} submissions: {duplicates:,} answered as duplicates, "
        f"tables {'unchanged' if unchanged else 'CHANGED'}."
    )
    print()
    print(
        f"#### B3-like: read a person + audit row, one transaction ({caller.agency} {caller.role}, "
        f"purpose {caller.purpose}; open loop; pool of {pool} connections)"
    )
    print()
    print(
        "| offered rate | achieved | requests | statuses | p50 | p99 | max | client CPU / req | "
        "server CPU / req | audit rows | load average after |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for q in queries:
        offered = f"{q.rate:g}/s" if q.commit_wait else f"{q.rate:g}/s, synchronous_commit off"
        print(
            f"| {offered} | {q.achieved:.1f}/s | {q.requests:,} | {dict(sorted(q.statuses.items()))} "
            f"| {percentile(q.latencies_ms, 0.5):.2f} ms | {percentile(q.latencies_ms, 0.99):.2f} ms "
            f"| {max(q.latencies_ms):.2f} ms | {q.client_cpu_s / q.requests * 1e6:,.0f} µs "
            f"| {q.server_cpu_s / q.requests * 1e6:,.0f} µs | {q.audited:,} | {q.load_after} |"
        )
    print()
    print(
        "#### Beside joinedup (ratio = joinedup / PostgreSQL reference: above 1, joinedup has the higher "
        "throughput (B1) or the higher latency (B3))"
    )
    print()
    print("| measure | PostgreSQL reference | joinedup | ratio | joinedup figure from |")
    print("|---|---:|---:|---:|---|")
    ours_b1 = f"{ours.b1_per_s:,.0f}" if ours.b1_per_s else "see B1"
    for run in intake_runs:
        if "synchronous_commit off" in run.label:
            continue
        print(
            f"| B1 submissions/s ({run.label}) | {run.per_s:,.0f} | {ours_b1} "
            f"| {ratio(ours.b1_per_s, run.per_s)} | {ours.b1_source or '—'} |"
        )
    for q in queries:
        if not q.commit_wait:
            continue
        mine: Latency | None = (ours.b3 or {}).get(q.rate)
        theirs50, theirs99 = percentile(q.latencies_ms, 0.5), percentile(q.latencies_ms, 0.99)
        if mine is None:
            print(f"| B3 p50 / p99 at {q.rate:g}/s | {theirs50:.2f} / {theirs99:.2f} ms | see B3 | — | — |")
        else:
            print(
                f"| B3 p50 / p99 at {q.rate:g}/s | {theirs50:.2f} / {theirs99:.2f} ms "
                f"| {mine.p50_ms:.1f} / {mine.p99_ms:.1f} ms "
                f"| {ratio(mine.p50_ms, theirs50)} / {ratio(mine.p99_ms, theirs99)} | {mine.source} |"
            )


# ---------------------------------------------------------------------------------------------- main


def measure(args: argparse.Namespace, city: City, workload: Workload, ours: OurFigures) -> None:
    caller = Caller("cw-1", args.caller_agency, "caseworker", args.purpose)
    with running_postgres() as server:
        runs: list[IntakeRun] = []
        policies = [
            (1, "one transaction per submission", True),
            (args.batch, f"batches of {args.batch}", True),
        ]
        if args.no_wait_variant:
            policies.append((1, "one transaction per submission, synchronous_commit off", False))
        agencies = len(city.agencies)
        for batch, label, commit_wait in policies:
            with psycopg.connect(server.conninfo, autocommit=True) as admin:
                admin.execute("DROP SCHEMA public CASCADE")
                admin.execute("CREATE SCHEMA public")
            with connect(server) as setup:
                create_schema(setup)
                load_agreements(setup, city)
            print(f"B1 {label}: {workload.total:,} submissions ...", file=sys.stderr, flush=True)
            runs.append(
                run_intake(
                    server, workload, batch, f"{label}, {agencies} connections", commit_wait=commit_wait
                )
            )
        dedup = resend(server, workload, args.resend)
        with psycopg.connect(server.conninfo, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE")
            rows = connection.execute("SELECT DISTINCT person_key FROM records ORDER BY 1").fetchall()
            persons = [str(row[0]) for row in rows]
        queries = []
        for rate in args.rates:
            print(f"B3 at {rate:g}/s for {args.seconds:g}s ...", file=sys.stderr, flush=True)
            queries.append(run_queries(server, persons, caller, rate, args.seconds, args.pool, args.seed))
        if args.no_wait_variant:
            rate = max(args.rates)
            print(f"B3 at {rate:g}/s, synchronous_commit off ...", file=sys.stderr, flush=True)
            queries.append(
                run_queries(
                    server, persons, caller, rate, args.seconds, args.pool, args.seed, commit_wait=False
                )
            )
        report(runs, dedup, queries, ours, server, city, args.pool, caller)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--persons", type=int, default=3000, help="synthetic city size (3,000 ≈ 21k submissions)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=500, help="submissions per commit in the batched run")
    parser.add_argument(
        "--resend", type=int, default=1000, help="submissions re-sent to check de-duplication"
    )
    parser.add_argument(
        "--rates", type=lambda s: [float(r) for r in s.split(",")], default=[50.0, 100.0, 200.0]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each B3 rate")
    parser.add_argument("--pool", type=int, default=8, help="B3 connections")
    parser.add_argument(
        "--no-wait-variant",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run with synchronous_commit off (commits not waiting for the WAL flush), for reference",
    )
    parser.add_argument("--caller-agency", default="police")
    parser.add_argument("--purpose", default="direct-care")
    parser.add_argument(
        "--ours-b1", type=float, help="joinedup's B1 submissions/s (default: docs/benchmarks.md)"
    )
    parser.add_argument(
        "--ours-b3", action="append", default=[], metavar="RATE=P50/P99",
        help="joinedup's B3 latency in ms at a rate (repeatable; default: docs/benchmarks.md)",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        find_binaries()
    except PostgresMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    ours = read_figures()
    if args.ours_b1 is not None:
        ours = OurFigures(args.ours_b1, "command line", ours.b3)
    if args.ours_b3:
        ours = OurFigures(ours.b1_per_s, ours.b1_source, dict(parse_latency_option(v) for v in args.ours_b3))
    print(f"building the synthetic city ({args.persons} persons) ...", file=sys.stderr, flush=True)
    city = build_city(args.seed, args.persons)
    workload = city_workload(city)
    measure(args, city, workload, ours)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
