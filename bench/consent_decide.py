"""Sharing decisions per second: the consent service's decision core answering a person view's batch.

Run: .venv/bin/python bench/consent_decide.py [--subjects 5000] [--batch 60] [--rounds 200]

The state holds one consent statement per subject (some withdrawn, some objections) and a handful of agency
agreements; each round asks one batch of questions like a person view does (every other agency's item, one
question per data category). Prints microseconds per decision and decisions/s. Not a test.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from joinedup.consent.adapters.store_memory import InMemoryConsentStore
from joinedup.consent.app.handlers import ConsentService, ConsumedEvent, Position
from joinedup.consent.app.known_codes import known_codes
from joinedup.consent.app.testing import agreement, day, question, record, scope, statement
from joinedup.consent.domain.events import ConsentEvent

AGENCIES = ("council-asc", "nhs-mh-trust", "police", "probation", "council-housing", "jobcentre")
CATEGORIES = ("social-care", "mental-health", "criminal-justice", "housing")


def build(subjects: int) -> ConsentService:
    service = ConsentService(InMemoryConsentStore(), known_codes())
    events: list[ConsentEvent] = []
    for n in range(subjects):
        subject = record(AGENCIES[n % len(AGENCIES)], f"P-{n:06d}")
        events.append(
            statement(
                "given", ref=f"CS-{n}", subject=subject, covering=scope(purposes=("care-coordination",))
            )
        )
        if n % 7 == 0:
            events.append(
                statement(
                    "withdrawn", ref=f"CS-{n}", version=2, subject=subject, effective_at=day("2026-02-01")
                )
            )
        if n % 11 == 0:
            events.append(
                statement(
                    "objection",
                    ref=f"OB-{n}",
                    subject=subject,
                    covering=scope(recipients=("police",)),
                )
            )
    for i, owner in enumerate(AGENCIES):
        events.append(
            agreement(
                f"isa-{i}",
                owners=(owner,),
                recipients=tuple(a for a in AGENCIES if a != owner),
                purposes=("care-coordination", "safeguarding"),
                categories=CATEGORIES,
                lawful_basis="public-task",
            )
        )
    service.apply([ConsumedEvent(e, Position("bench", 0, i)) for i, e in enumerate(events)])
    return service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=60, help="questions per person view")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    service = build(args.subjects)
    built = time.perf_counter() - started
    at = day("2026-03-01") + timedelta(hours=9)
    batches = []
    for r in range(args.rounds):
        records = (record(AGENCIES[r % len(AGENCIES)], f"P-{(r * 37) % args.subjects:06d}"),)
        batches.append(
            [
                question(
                    owner=AGENCIES[q % len(AGENCIES)],
                    recipient="council-asc",
                    purpose="care-coordination",
                    category=CATEGORIES[q % len(CATEGORIES)],
                    at=at,
                    records=records,
                )
                for q in range(args.batch)
            ]
        )
    started = time.perf_counter()
    permits = 0
    for batch in batches:
        permits += sum(d.permit for d in service.decide_many(batch))
    elapsed = time.perf_counter() - started
    decisions = args.rounds * args.batch
    print(f"consent decisions: state of {args.subjects} subjects built in {built:.2f} s")
    print(
        f"  {decisions} decisions in {args.rounds} batches of {args.batch}: "
        f"{elapsed / decisions * 1e6:.1f} us/decision, {decisions / elapsed:,.0f} decisions/s, "
        f"{elapsed / args.rounds * 1e3:.2f} ms per person-view batch ({permits} permitted)"
    )


if __name__ == "__main__":
    main()
