"""The access audit hash chain: building it, and catching a gap, an edit, a reorder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from joinedup.contract.models.audit import AccessRecorded, DisclosedItem
from joinedup.contract.serde import default_codec
from joinedup.projections.audit.chain import (
    GENESIS_HASH,
    AccessDraft,
    ChainTail,
    chain,
    next_record,
    record_hash,
    verify,
)

T0 = datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)


def draft(n: int, **changes: object) -> AccessDraft:
    fields: dict[str, object] = {
        "request_id": f"req-{n}",
        "at": T0 + timedelta(seconds=n),
        "user_id": "cw-4411",
        "agency": "council-asc",
        "role": "caseworker",
        "purpose": "care-coordination",
        "request": "GET /v1/persons/{person_id}",
        "person_id": f"person-{n}",
        "outcome": "withheld",
        "disclosed": (
            DisclosedItem(
                item_ref="contact:police/CAD-1",
                owner_agency="police",
                data_category="criminal-justice",
                basis="agreement",
                basis_ref="isa-7",
            ),
        ),
        "withheld_count": 2,
    }
    fields.update(changes)
    return AccessDraft.model_validate(fields)


def records(count: int) -> list[AccessRecorded]:
    return chain(None, [draft(n) for n in range(count)])


def kinds(found: list[AccessRecorded]) -> set[str]:
    return {problem.kind for problem in verify(found)}


def test_a_chain_starts_at_sequence_zero_from_the_genesis_hash_and_links_each_record_to_the_last() -> None:
    built = records(3)
    assert [r.sequence for r in built] == [0, 1, 2]
    assert built[0].prev_hash == GENESIS_HASH
    assert built[1].prev_hash == built[0].hash
    assert built[2].prev_hash == built[1].hash
    assert all(r.hash == record_hash(r) for r in built)
    assert verify(built) == []


def test_records_carry_the_drafts_fields_and_a_deterministic_envelope() -> None:
    first = records(1)[0]
    again = records(1)[0]
    assert first == again
    assert first.envelope.event_type == "AccessRecorded"
    assert first.envelope.correlation_id == "req-0"
    assert first.envelope.source_agency == "joinedup"
    assert first.withheld_count == 2
    assert first.disclosed[0].basis_ref == "isa-7"


def test_an_edited_record_is_detected() -> None:
    built = records(4)
    built[2] = built[2].model_copy(update={"withheld_count": 0})
    problems = verify(built)
    assert [(p.kind, p.sequence) for p in problems] == [("edit", 2)]


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link() -> None:
    built = records(4)
    edited = built[1].model_copy(update={"purpose": "safeguarding"})
    built[1] = edited.model_copy(update={"hash": record_hash(edited)})
    problems = verify(built)
    assert [(p.kind, p.sequence) for p in problems] == [("broken-link", 2)]


def test_a_missing_record_is_a_gap() -> None:
    built = records(5)
    del built[2]
    assert kinds(built) == {"gap", "broken-link"}
    gap = next(p for p in verify(built) if p.kind == "gap")
    assert gap.sequence == 3
    assert "2 missing" in gap.detail


def test_swapped_records_are_a_reorder() -> None:
    built = records(5)
    built[1], built[3] = built[3], built[1]
    found = kinds(built)
    assert "reorder" in found
    assert "gap" not in found


def test_a_repeated_record_is_a_duplicate() -> None:
    built = records(3)
    built.insert(2, built[1])
    assert "duplicate" in kinds(built)


def test_a_run_that_continues_a_known_tail_verifies_against_it() -> None:
    built = records(6)
    tail = ChainTail.of(built[2])
    assert verify(built[3:], start=tail) == []
    assert {p.kind for p in verify(built[4:], start=tail)} == {"gap", "broken-link"}


def test_the_hash_does_not_depend_on_the_time_zone_the_time_was_given_in() -> None:
    plus_one = timezone(timedelta(hours=1))
    in_utc = next_record(None, draft(0))
    elsewhere = next_record(None, draft(0, at=(T0 + timedelta(seconds=0)).astimezone(plus_one)))
    assert in_utc.hash == elsewhere.hash


def test_a_record_read_back_from_avro_still_verifies() -> None:
    codec = default_codec()
    built = records(3)
    decoded = [codec.decode_as(codec.encode(r), AccessRecorded) for r in built]
    assert decoded == built
    assert verify(decoded) == []


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_record(None, draft(0, at=datetime(2026, 3, 10, 12)))
