from __future__ import annotations

from joinedup.local.synthetic import NoiseLevel, generate_population
from joinedup.projections.identity.match_model import FIELD_LEVELS, default_match_model
from joinedup.projections.identity.nicknames import default_nicknames
from joinedup.projections.identity.normalise import features_of
from joinedup.projections.identity.records import SourceRecord
from joinedup.projections.identity.training import estimate_probabilities, match_pairs, spread_pairs


def test_estimated_probabilities_say_agreement_is_likely_for_one_person_and_rare_between_two() -> None:
    pop = generate_population(4, 150, NoiseLevel.low())
    features = [
        features_of(SourceRecord.from_person_record(r.agency, r.person_record()), default_nicknames())
        for r in pop.records
    ]
    labels = [pop.truth[r.key] for r in pop.records]
    estimated = estimate_probabilities(features, labels, default_match_model(), pairs_per_record=10)
    assert set(estimated) == set(FIELD_LEVELS)
    for field in ("given_name", "family_name", "date_of_birth"):
        assert estimated[field]["exact"].m > 0.5
        assert estimated[field]["exact"].u < 0.05
        assert estimated[field]["disagree"].u > 0.5


def test_training_pairs_are_same_person_pairs_and_different_person_pairs() -> None:
    labels = ["a", "b", "a", "c", "a"]
    assert match_pairs(labels) == [(0, 2), (0, 4), (2, 4)]
    assert all(labels[i] != labels[j] for i, j in spread_pairs(labels, 3))
