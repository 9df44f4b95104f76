"""Identity resolution against the synthetic population: quality at several noise levels, and speed.

Streams every record of a seeded synthetic population (joinedup.local.synthetic) through one
IdentityResolver over the in-memory store, one record at a time, then prints markdown tables:

* quality: pairwise and exact-cluster precision / recall / F1 against the ground truth, the B-cubed F1 beside
  them (per-record overlap; a stray record costs only its own share, where the exact-cluster measure, on which
  the target is set, counts its whole person wrong), false merges (predicted
  persons mixing true persons), merges across twins and across people sharing a common name, pairs of records
  with different valid NHS numbers placed in one person (must be 0), review requests, and the cluster F1 after
  a reviewer who knows the truth answers every review request (SamePersonAsserted / DifferentPersonsAsserted);
* where the splits come from: true persons whose records carry two different valid NHS or NI numbers (never
  one person, by invariant 4), and persons left split until a human answers a review;
* speed: per-record resolve() latency p50 / p99 / max (after a warm-up) and records/s over the whole stream.

    .venv/bin/python bench/identity_quality.py                       # 2000 persons, seeds 11 12 13
    .venv/bin/python bench/identity_quality.py --persons 500 --seeds 1
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from figures import percentile

from joinedup.local.synthetic import NoiseLevel, SyntheticPopulation, generate_population
from joinedup.projections.identity.evaluation import (
    QualityReport,
    conflicting_pairs,
    evaluate,
    merged_person_pairs,
)
from joinedup.projections.identity.events import AnyIdentityEvent, MatchReviewRequested
from joinedup.projections.identity.records import (
    DifferentPersonsAsserted,
    RecordKey,
    RecordObserved,
    ResolverInput,
    SamePersonAsserted,
    SourceRecord,
)
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.rules import IdentityRuleError
from joinedup.projections.identity.store import InMemoryIdentityStore

T0 = datetime(2025, 7, 1, tzinfo=UTC)
Key = tuple[str, str]


@dataclass
class Run:
    level: str
    seed: int
    records: int
    persons: int
    report: QualityReport
    after_review: QualityReport
    twin_merges: int
    common_name_merges: int
    nhs_conflicts: int
    ni_conflicts: int
    reviews: int
    identifier_split_persons: int
    latencies_ns: list[int]
    cpu_ns: list[int]
    seconds: float


def observations(pop: SyntheticPopulation) -> list[ResolverInput]:
    return [
        RecordObserved(
            record=SourceRecord.from_person_record(r.agency, r.person_record()),
            source_event_id=f"{r.agency}/{r.local_person_id}/{i}",
            observed_at=T0 + timedelta(seconds=i),
        )
        for i, r in enumerate(pop.stream())
    ]


def predicted(resolver: IdentityResolver) -> dict[Key, str]:
    result: dict[Key, str] = {}
    for key in resolver.store.record_keys():
        person = resolver.person_of(key)
        if person is not None:
            result[(key.agency, key.local_person_id)] = person
    return result


def review_with_the_truth(
    resolver: IdentityResolver, events: list[AnyIdentityEvent], truth: dict[Key, str]
) -> None:
    """Answer every review request as a reviewer who knows the truth would, until none are left."""
    queue = [e for e in events if isinstance(e, MatchReviewRequested)]
    answered: set[tuple[RecordKey, RecordKey]] = set()
    at = T0 + timedelta(days=365)
    while queue:
        request = queue.pop(0)
        a, b = sorted((request.record.key(), request.candidate.key()))
        if (a, b) in answered:
            continue
        answered.add((a, b))
        same = truth[(a.agency, a.local_person_id)] == truth[(b.agency, b.local_person_id)]
        kind = SamePersonAsserted if same else DifferentPersonsAsserted
        answer = kind(
            assertion_id=f"review-{len(answered)}",
            first=request.record,
            second=request.candidate,
            asserted_by="bench-reviewer",
            reason="answered from the ground truth",
            asserted_at=at + timedelta(seconds=len(answered)),
        )
        try:
            queue.extend(e for e in resolver.resolve(answer) if isinstance(e, MatchReviewRequested))
        except IdentityRuleError:
            continue


def identifier_split_persons(pop: SyntheticPopulation, resolver: IdentityResolver) -> int:
    """True persons whose records carry two different valid NHS or NI numbers: never one person."""
    numbers: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for (agency, local_id), person in pop.truth.items():
        stored = resolver.store.get_record(RecordKey(agency, local_id))
        if stored is None:
            continue
        nhs, ni = numbers[person]
        if stored.features.nhs:
            nhs.add(stored.features.nhs)
        if stored.features.ni:
            ni.add(stored.features.ni)
    return sum(1 for nhs, ni in numbers.values() if len(nhs) > 1 or len(ni) > 1)


def warm_up() -> None:
    """Load what the first call loads lazily (validators, rapidfuzz, jellyfish) outside the timing."""
    resolver = IdentityResolver(InMemoryIdentityStore())
    for message in observations(generate_population(999, 20)):
        resolver.resolve(message)


def run(level: str, seed: int, persons: int) -> Run:
    pop = generate_population(seed, persons, NoiseLevel.named(level))
    messages = observations(pop)
    resolver = IdentityResolver(InMemoryIdentityStore())
    events: list[AnyIdentityEvent] = []
    latencies: list[int] = []
    cpu: list[int] = []
    gc.collect()
    started = time.perf_counter()
    for message in messages:
        before, cpu_before = time.perf_counter_ns(), time.thread_time_ns()
        out = resolver.resolve(message)
        latencies.append(time.perf_counter_ns() - before)
        cpu.append(time.thread_time_ns() - cpu_before)
        events.extend(out)
    seconds = time.perf_counter() - started
    placed = predicted(resolver)
    report = evaluate(placed, pop.truth)
    common_pairs = [
        (a, b) for group in pop.common_name_groups for i, a in enumerate(group) for b in group[i + 1 :]
    ]
    nhs: dict[Key, str | None] = {}
    ni: dict[Key, str | None] = {}
    for key in pop.truth:
        stored = resolver.store.get_record(RecordKey(*key))
        nhs[key] = stored.features.nhs if stored else None
        ni[key] = stored.features.ni if stored else None
    result = Run(
        level=level,
        seed=seed,
        records=len(pop.truth),
        persons=len(pop.persons),
        report=report,
        after_review=report,
        twin_merges=merged_person_pairs(placed, pop.truth, pop.twins),
        common_name_merges=merged_person_pairs(placed, pop.truth, common_pairs),
        nhs_conflicts=conflicting_pairs(placed, nhs),
        ni_conflicts=conflicting_pairs(placed, ni),
        reviews=sum(1 for e in events if isinstance(e, MatchReviewRequested)),
        identifier_split_persons=identifier_split_persons(pop, resolver),
        latencies_ns=latencies,
        cpu_ns=cpu,
        seconds=seconds,
    )
    review_with_the_truth(resolver, events, pop.truth)
    result.after_review = evaluate(predicted(resolver), pop.truth)
    return result


def mean(values: list[float]) -> float:
    return statistics.fmean(values)


def print_tables(runs: list[Run]) -> None:
    levels = list(dict.fromkeys(r.level for r in runs))
    print(
        "### Quality (mean over seeds " + ", ".join(str(r.seed) for r in runs if r.level == levels[0]) + ")"
    )
    print()
    print(
        "| noise | records | persons | pairwise P | pairwise R | pairwise F1 "
        "| cluster P | cluster R | cluster F1 | B-cubed F1 | false merges | twin merges | common-name merges "
        "| different-NHS merges | review requests | cluster F1 after review |"
    )
    print("|" + "---|" * 16)
    for level in levels:
        rs = [r for r in runs if r.level == level]
        print(
            f"| {level} | {mean([r.records for r in rs]):.0f} | {mean([r.persons for r in rs]):.0f} "
            f"| {mean([r.report.pairwise.precision for r in rs]):.4f} "
            f"| {mean([r.report.pairwise.recall for r in rs]):.4f} "
            f"| {mean([r.report.pairwise.f1 for r in rs]):.4f} "
            f"| {mean([r.report.cluster.precision for r in rs]):.4f} "
            f"| {mean([r.report.cluster.recall for r in rs]):.4f} "
            f"| {mean([r.report.cluster.f1 for r in rs]):.4f} "
            f"| {mean([r.report.bcubed.f1 for r in rs]):.4f} "
            f"| {sum(r.report.false_merges for r in rs)} | {sum(r.twin_merges for r in rs)} "
            f"| {sum(r.common_name_merges for r in rs)} | {sum(r.nhs_conflicts for r in rs)} "
            f"| {mean([r.reviews for r in rs]):.0f} | {mean([r.after_review.cluster.f1 for r in rs]):.4f} |"
        )
    print()
    print("### Where the split persons come from (mean per run)")
    print()
    print(
        "| noise | split persons | of which carry two valid NHS/NI numbers (invariant 4) "
        "| split persons after review | different-NI merges |"
    )
    print("|---|---|---|---|---|")
    for level in levels:
        rs = [r for r in runs if r.level == level]
        print(
            f"| {level} | {mean([r.report.false_splits for r in rs]):.1f} "
            f"| {mean([r.identifier_split_persons for r in rs]):.1f} "
            f"| {mean([r.after_review.false_splits for r in rs]):.1f} | {sum(r.ni_conflicts for r in rs)} |"
        )
    print()
    print("### Speed: one resolver, one record at a time, in-memory store (after a warm-up)")
    print()
    print(
        "Wall time is disturbed by whatever else runs on the machine; the CPU columns are this thread's CPU "
        "time per record (time.thread_time_ns), which is not."
    )
    print()
    print("| noise | records | p50 ms | p99 ms | max ms | records/s | CPU p50 ms | CPU p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for level in levels:
        rs = [r for r in runs if r.level == level]
        latencies = [ns for r in rs for ns in r.latencies_ns]
        cpu = [ns for r in rs for ns in r.cpu_ns]
        rate = sum(len(r.latencies_ns) for r in rs) / sum(r.seconds for r in rs)
        print(
            f"| {level} | {len(latencies)} | {percentile(latencies, 0.5) / 1e6:.3f} "
            f"| {percentile(latencies, 0.99) / 1e6:.3f} | {max(latencies) / 1e6:.1f} | {rate:.0f} "
            f"| {percentile(cpu, 0.5) / 1e6:.3f} | {percentile(cpu, 0.99) / 1e6:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    parser.add_argument("--levels", nargs="+", default=["low", "moderate", "high"])
    args = parser.parse_args()
    warm_up()
    runs = [run(level, seed, args.persons) for level in args.levels for seed in args.seeds]
    print_tables(runs)


if __name__ == "__main__":
    main()
