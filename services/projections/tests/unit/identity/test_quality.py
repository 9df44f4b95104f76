"""Quality floors on a small synthetic population (the full figures come from bench/identity_quality.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from joinedup.local.synthetic import NoiseLevel, generate_population
from joinedup.projections.identity.evaluation import conflicting_pairs, evaluate, merged_person_pairs
from joinedup.projections.identity.records import RecordKey, RecordObserved, SourceRecord
from joinedup.projections.identity.resolver import IdentityResolver
from joinedup.projections.identity.store import InMemoryIdentityStore

T0 = datetime(2025, 7, 1, tzinfo=UTC)


def test_moderate_noise_merges_no_two_people_and_finds_nearly_every_person() -> None:
    pop = generate_population(31, 500, NoiseLevel.moderate())
    resolver = IdentityResolver(InMemoryIdentityStore())
    for i, r in enumerate(pop.stream()):
        record = SourceRecord.from_person_record(r.agency, r.person_record())
        resolver.resolve(
            RecordObserved(record=record, source_event_id=f"e{i}", observed_at=T0 + timedelta(i))
        )
    predicted: dict[tuple[str, str], str] = {}
    nhs: dict[tuple[str, str], str | None] = {}
    for key in resolver.store.record_keys():
        stored = resolver.store.get_record(key)
        person = resolver.person_of(key)
        assert stored is not None
        assert person is not None
        predicted[(key.agency, key.local_person_id)] = person
        nhs[(key.agency, key.local_person_id)] = stored.features.nhs
    report = evaluate(predicted, pop.truth)
    assert conflicting_pairs(predicted, nhs) == 0
    assert merged_person_pairs(predicted, pop.truth, pop.twins) == 0
    assert report.pairwise.precision >= 0.998
    assert report.pairwise.recall >= 0.96
    assert report.cluster.f1 >= 0.94
    assert resolver.person_of(RecordKey("nobody", "none")) is None
