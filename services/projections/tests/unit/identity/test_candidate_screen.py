"""``Matcher.compare_candidate`` stops early on a pair that can neither link nor go to review; whenever it
does not, it must say exactly what ``Matcher.compare`` says (the resolver's decisions rest on that)."""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path

import pytest

from joinedup.local.synthetic import NoiseLevel, generate_population
from joinedup.projections.identity.blocking import blocking_keys
from joinedup.projections.identity.match_model import MatchModel, default_match_model, load_match_model
from joinedup.projections.identity.matching import CANNOT_LINK, LINK, NO_MATCH, Matcher
from joinedup.projections.identity.nicknames import default_nicknames
from joinedup.projections.identity.normalise import Features, features_of
from joinedup.projections.identity.records import SourceRecord


@cache
def candidate_pairs() -> list[tuple[Features, Features]]:
    """Every pair of records that share a blocking key in a small, noisy synthetic population."""
    pop = generate_population(17, 300, NoiseLevel.high())
    by_block: dict[str, list[Features]] = {}
    for synthetic in pop.stream():
        record = SourceRecord.from_person_record(synthetic.agency, synthetic.person_record())
        features = features_of(record, default_nicknames())
        for block in blocking_keys(features):
            by_block.setdefault(block, []).append(features)
    pairs: dict[tuple[object, object], tuple[Features, Features]] = {}
    for members in by_block.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs.setdefault((a.key, b.key), (a, b))
    return [pairs[key] for key in sorted(pairs)]


def packaged_model(name: str) -> MatchModel:
    return load_match_model(Path(str(files("joinedup.projections.identity").joinpath("data", name))))


@pytest.mark.parametrize("model_file", ["model_v1.yaml", "model_v2.yaml", "model_v3.yaml"])
def test_a_screened_comparison_is_the_full_one_or_none_only_when_the_pair_neither_links_nor_is_reviewed(
    model_file: str,
) -> None:
    matcher = Matcher(packaged_model(model_file))
    screened_out = 0
    verdicts: set[str] = set()
    for a, b in candidate_pairs():
        full = matcher.compare(a, b)
        screened = matcher.compare_candidate(a, b)
        verdicts.add(full.verdict)
        if screened is None:
            screened_out += 1
            assert full.verdict in (NO_MATCH, CANNOT_LINK), (a.key, b.key)
        else:
            assert screened == full, (a.key, b.key)
    # The population exercises both sides: pairs screened out and pairs that link.
    assert screened_out > 0
    assert LINK in verdicts


def test_household_members_are_screened_out_before_their_addresses_are_compared() -> None:
    matcher = Matcher(default_match_model())
    home = {"family_name": "Sims", "address_lines": ("3 Mill Road", "Salford"), "postcode": "M38 5JD"}
    father = features_of(
        SourceRecord(
            agency="police",
            local_person_id="P1",
            given_names="Derek",
            sex="M",
            date_of_birth=date(1977, 3, 27),
            **home,
        ),
        default_nicknames(),
    )
    son = features_of(
        SourceRecord(agency="council-childrens", local_person_id="C1", given_names="Mathew", sex="M", **home),
        default_nicknames(),
    )
    assert matcher.compare(father, son).verdict == NO_MATCH
    assert matcher.compare_candidate(father, son) is None
    assert matcher.compare_candidate(son, father) is None
