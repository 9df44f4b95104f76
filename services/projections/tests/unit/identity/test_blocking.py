from __future__ import annotations

from datetime import date

from joinedup.projections.identity.blocking import blocking_keys
from joinedup.projections.identity.nicknames import default_nicknames
from joinedup.projections.identity.normalise import features_of
from joinedup.projections.identity.records import SourceRecord


def keys(**fields: object) -> set[str]:
    record = SourceRecord.model_validate({"agency": "police", "local_person_id": "P1", **fields})
    return set(blocking_keys(features_of(record, default_nicknames())))


def test_blocking_keys_come_from_the_record_alone_and_are_sorted() -> None:
    record = SourceRecord(agency="police", local_person_id="P1", given_names="Ann", family_name="Lee")
    first = blocking_keys(features_of(record, default_nicknames()))
    assert first == tuple(sorted(set(first)))
    assert first == blocking_keys(features_of(record, default_nicknames()))


def test_a_valid_nhs_number_is_a_key_but_an_invalid_one_is_not() -> None:
    assert "nhs:9434765919" in keys(nhs_number="943 476 5919")
    assert not any(k.startswith("nhs:") for k in keys(nhs_number="9434765918"))


def test_a_transposed_date_of_birth_lands_in_the_same_block() -> None:
    a = keys(given_names="Ann", family_name="Lee", date_of_birth=date(1990, 4, 7))
    b = keys(given_names="Ann", family_name="Lee", date_of_birth=date(1990, 7, 4))
    assert "dob:1990-04-07" in a & b


def test_a_nickname_shares_a_name_block_with_the_full_name() -> None:
    a = keys(given_names="Bill", family_name="Jones", date_of_birth=date(1970, 1, 2))
    b = keys(given_names="William", family_name="Jones", date_of_birth=date(1970, 1, 2))
    assert {"nt:WILLIAM:1970", "fn:WILLIAM:JONES"} <= a & b


def test_phonetic_surname_and_postcode_sector_keys_tolerate_spelling() -> None:
    a = keys(given_names="Ann", family_name="Smith", date_of_birth=date(1990, 4, 7), postcode="M6 5AB")
    b = keys(given_names="Ann", family_name="Smyth", date_of_birth=date(1990, 4, 7), postcode="m65ab")
    assert {"ps:S530:1990", "pc:M6 5:S"} <= a & b


def test_a_record_without_a_date_of_birth_still_meets_its_full_name() -> None:
    a = keys(given_names="Kirsty", family_name="Hall")
    b = keys(given_names="Kirsty", family_name="Hall", date_of_birth=date(1995, 5, 30))
    assert "fn:KIRSTY:HALL" in a & b


def test_a_name_order_swap_without_a_date_of_birth_still_meets_its_full_name() -> None:
    a = keys(given_names="Hall", family_name="Kirsty")
    b = keys(given_names="Kirsty", family_name="Hall", date_of_birth=date(1995, 5, 30))
    assert "fo:HALL:KIRSTY" in a & b


def test_a_name_order_swap_without_a_date_of_birth_meets_the_name_with_a_slip_in_it() -> None:
    # "Watts, Mandy" written surname first with no date of birth; "Majdy Watts" with a slip and a date.
    swapped = keys(given_names="Watts", family_name="Mandy")
    slipped = keys(given_names="Majdy", family_name="Watts", date_of_birth=date(1998, 12, 18))
    assert swapped & slipped
