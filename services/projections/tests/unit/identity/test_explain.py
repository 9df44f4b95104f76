from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest

from joinedup.projections.identity.explain import UnknownRecordError, explain, export_csv, export_rows
from joinedup.projections.identity.records import DifferentPersonsAsserted, RecordKey, RecordObserved
from joinedup.projections.identity.resolver import IdentityResolver

Observe = Callable[..., RecordObserved]
NHS_A = "9434765919"


def test_explain_shows_the_person_and_the_links_that_hold_the_record_there(
    resolver: IdentityResolver, observe: Observe
) -> None:
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    resolver.resolve(observe("gp-practice", "G1", nhs_number=NHS_A))
    resolver.resolve(observe("council-housing", "H1", postcode="M6 5AB"))
    explanation = explain(resolver.store, RecordKey("gp-practice", "G1"))
    assert explanation.person_id == resolver.person_of(RecordKey("police", "P1"))
    assert {m.key() for m in explanation.members} == {
        RecordKey("police", "P1"),
        RecordKey("gp-practice", "G1"),
        RecordKey("council-housing", "H1"),
    }
    holding = [link for link in explanation.links if link.holds]
    assert holding
    assert any(link.rule == "nhs-number" for link in holding)
    text = explanation.model_dump_json()
    assert NHS_A not in text
    assert "Jane" not in text


def test_explain_names_the_assertions_about_a_record(
    resolver: IdentityResolver,
    observe: Observe,
    different_persons: Callable[..., DifferentPersonsAsserted],
) -> None:
    resolver.resolve(observe("police", "P1"))
    resolver.resolve(observe("probation", "N1"))
    resolver.resolve(different_persons(("police", "P1"), ("probation", "N1")))
    explanation = explain(resolver.store, RecordKey("police", "P1"))
    assert [(a.kind, a.asserted_by) for a in explanation.assertions] == [("different", "dpo-3")]
    assert explanation.links == ()


def test_explaining_an_unknown_record_is_an_error(resolver: IdentityResolver) -> None:
    with pytest.raises(UnknownRecordError):
        explain(resolver.store, RecordKey("police", "nobody"))


def test_export_lists_every_record_with_its_person_sorted(
    resolver: IdentityResolver, observe: Observe
) -> None:
    resolver.resolve(observe("police", "P2", given_names="Zoe"))
    resolver.resolve(observe("council-asc", "S1", nhs_number=NHS_A))
    resolver.resolve(observe("police", "P1", nhs_number=NHS_A))
    rows = export_rows(resolver.store)
    assert [row[:2] for row in rows] == [("council-asc", "S1"), ("police", "P1"), ("police", "P2")]
    assert rows[0][2] == rows[1][2] != rows[2][2]
    parsed = list(csv.reader(io.StringIO(export_csv(resolver.store))))
    assert parsed[0] == ["agency", "local_person_id", "person_id"]
    assert [tuple(r) for r in parsed[1:]] == rows
