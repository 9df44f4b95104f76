from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.contract.identifiers import nhs_number_is_valid
from joinedup.projections.identity.events import (
    REVIEW_GIVEN_NAMES_DIFFER,
    REVIEW_GREY_BAND,
    REVIEW_STRONG_IDENTIFIER_CONTRADICTED,
    RULE_NHS_NUMBER,
    RULE_NI_NUMBER,
)
from joinedup.projections.identity.match_model import FIELD_LEVELS, default_match_model, load_match_model
from joinedup.projections.identity.matching import (
    CANNOT_LINK,
    LINK,
    NAMES_SWAPPED,
    NO_MATCH,
    REVIEW,
    Matcher,
    sex_neutral_slip,
)
from joinedup.projections.identity.nicknames import default_nicknames
from joinedup.projections.identity.normalise import Features, features_of
from joinedup.projections.identity.records import SourceRecord

NHS_A = "9434765919"
NHS_B = "9434765870"
_local_ids = iter(range(1, 1_000_000))


def features(agency: str = "police", **fields: Any) -> Features:
    values: dict[str, Any] = {
        "given_names": "Jane",
        "family_name": "Doe",
        "date_of_birth": date(1980, 3, 14),
        "sex": "F",
    }
    values.update(fields)
    record = SourceRecord(agency=agency, local_person_id=f"L{next(_local_ids)}", **values)
    return features_of(record, default_nicknames())


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(default_match_model())


def test_the_test_nhs_numbers_are_valid_by_mod_11() -> None:
    assert nhs_number_is_valid(NHS_A)
    assert nhs_number_is_valid(NHS_B)


def test_the_same_valid_nhs_number_links_two_records_by_rule(matcher: Matcher) -> None:
    a = features(nhs_number=NHS_A, given_names="J", postcode=None)
    b = features(agency="gp-practice", nhs_number="943 476 5919")
    outcome = matcher.compare(a, b)
    assert outcome.verdict == LINK
    assert outcome.rule == RULE_NHS_NUMBER
    assert "nhs_number:exact" in outcome.agreed_fields


def test_two_different_valid_nhs_numbers_can_never_link_however_much_else_agrees(matcher: Matcher) -> None:
    a = features(nhs_number=NHS_A, postcode="M6 5AB", phone="01614960123")
    b = features(agency="gp-practice", nhs_number=NHS_B, postcode="M6 5AB", phone="01614960123")
    outcome = matcher.compare(a, b)
    assert outcome.verdict == CANNOT_LINK
    assert outcome.conflict == "nhs_number"


def test_ni_numbers_are_compared_on_their_first_eight_characters(matcher: Matcher) -> None:
    a = features(ni_number="AB123456C", given_names=None, date_of_birth=None)
    b = features(agency="jobcentre", ni_number="ab 12 34 56")
    assert matcher.compare(a, b).rule == RULE_NI_NUMBER


def test_two_different_valid_ni_numbers_can_never_link(matcher: Matcher) -> None:
    a = features(ni_number="AB123456C")
    b = features(agency="jobcentre", ni_number="AB123457C")
    assert matcher.compare(a, b).verdict == CANNOT_LINK


def test_a_strong_identifier_contradicted_by_the_date_of_birth_goes_to_review(matcher: Matcher) -> None:
    mother = features(nhs_number=NHS_A, given_names="Mary", date_of_birth=date(1961, 5, 2))
    child_with_her_number = features(agency="gp-practice", nhs_number=NHS_A, date_of_birth=date(1995, 11, 23))
    outcome = matcher.compare(mother, child_with_her_number)
    assert outcome.verdict == REVIEW
    assert outcome.review_reason == REVIEW_STRONG_IDENTIFIER_CONTRADICTED


def test_a_nickname_a_misspelt_surname_and_a_transposed_date_of_birth_still_link(matcher: Matcher) -> None:
    a = features(given_names="William", family_name="Thompson", date_of_birth=date(1975, 4, 9), sex="M")
    b = features(
        agency="council-housing",
        given_names="Bill",
        family_name="Thomspon",
        date_of_birth=date(1975, 9, 4),
        sex="Male",
    )
    outcome = matcher.compare(a, b)
    assert outcome.verdict == LINK
    assert outcome.rule is None
    assert set(outcome.agreed_fields) >= {
        "given_name:nickname",
        "family_name:typo",
        "date_of_birth:transposed",
    }


def test_twins_with_different_first_names_are_never_linked_by_score(matcher: Matcher) -> None:
    shared: dict[str, Any] = {
        "family_name": "Okafor",
        "date_of_birth": date(2001, 6, 30),
        "address_lines": ("12 Cross Lane", "Salford"),
        "postcode": "M6 5AB",
        "phone": "01614960123",
    }
    amara = features(given_names="Amara", sex="F", **shared)
    adaeze = features(agency="council-housing", given_names="Adaeze", sex="F", **shared)
    chidi = features(agency="council-housing", given_names="Chidi", sex="M", **shared)
    sisters = matcher.compare(amara, adaeze)
    assert sisters.score >= default_match_model().thresholds.link
    assert sisters.verdict == REVIEW
    assert sisters.review_reason == REVIEW_GIVEN_NAMES_DIFFER
    # A brother differs in name and sex: another member of the household, not even a question.
    assert matcher.compare(amara, chidi).verdict == NO_MATCH


def test_a_name_order_swap_is_recognised(matcher: Matcher) -> None:
    a = features(given_names="Patel", family_name="Ravi", sex="M")
    b = features(agency="police", given_names="Ravi", family_name="Patel", sex="M")
    outcome = matcher.compare(a, b)
    assert NAMES_SWAPPED in outcome.agreed_fields
    assert outcome.verdict == LINK


def test_a_match_on_names_alone_goes_to_review_not_to_a_link(matcher: Matcher) -> None:
    a = features(given_names="John", family_name="Smith", sex="M", date_of_birth=None)
    b = features(agency="probation", given_names="John", family_name="Smith", sex="M")
    outcome = matcher.compare(a, b)
    assert outcome.verdict == REVIEW
    assert outcome.review_reason == REVIEW_GREY_BAND


def test_weights_follow_from_the_model_file() -> None:
    model = default_match_model()
    weights = model.weights()
    assert set(weights) == set(FIELD_LEVELS)
    assert weights["date_of_birth"]["exact"] > weights["date_of_birth"]["one-part"] > 0
    assert weights["given_name"]["disagree"] < 0
    assert model.version == load_match_model().version == "fs-v3"


_names = st.sampled_from(["Jane", "Jayne", "Janet", "Bill", "William", "Doe", "Dough", "Smith", None])
_dates = st.sampled_from(
    [date(1980, 3, 4), date(1980, 4, 3), date(1981, 3, 4), date(1980, 3, 9), date(1990, 1, 1), None]
)


@settings(max_examples=60, deadline=None)
@given(
    a_given=_names,
    a_family=_names,
    a_dob=_dates,
    b_given=_names,
    b_family=_names,
    b_dob=_dates,
    a_nhs=st.sampled_from([NHS_A, NHS_B, "9434765911", None]),
    b_nhs=st.sampled_from([NHS_A, NHS_B, "9434765911", None]),
)
def test_a_comparison_does_not_depend_on_which_record_comes_first(
    a_given: str | None,
    a_family: str | None,
    a_dob: date | None,
    b_given: str | None,
    b_family: str | None,
    b_dob: date | None,
    a_nhs: str | None,
    b_nhs: str | None,
) -> None:
    matcher = Matcher(default_match_model())
    a = features(given_names=a_given, family_name=a_family, date_of_birth=a_dob, nhs_number=a_nhs)
    b = features(given_names=b_given, family_name=b_family, date_of_birth=b_dob, nhs_number=b_nhs)
    assert matcher.compare(a, b) == matcher.compare(b, a)


def test_household_members_sharing_an_address_and_a_phone_are_neither_linked_nor_reviewed(
    matcher: Matcher,
) -> None:
    home: dict[str, Any] = {
        "family_name": "Sims",
        "address_lines": ("3 Mill Road", "Salford"),
        "postcode": "M38 5JD",
        "phone": "01614960777",
    }
    father = features(given_names="Derek", sex="M", date_of_birth=date(1977, 3, 27), **home)
    son = features(agency="council-childrens", given_names="Mathew", sex="M", date_of_birth=None, **home)
    assert matcher.compare(father, son).verdict == NO_MATCH


def test_an_exact_match_on_a_common_name_counts_for_less_than_on_a_rare_one(matcher: Matcher) -> None:
    def score(given: str, family: str) -> float:
        a = features(given_names=given, family_name=family, sex="M", date_of_birth=date(1971, 3, 11))
        b = features(
            agency="probation",
            given_names=given,
            family_name=family,
            sex="M",
            date_of_birth=date(1971, 3, 12),
        )
        return matcher.compare(a, b).score

    assert score("John", "Smith") < score("Torquil", "Pennyfeather")
    # A common name with a date of birth one day out is a question for a human, not a link.
    a = features(given_names="John", family_name="Smith", sex="M", date_of_birth=date(1971, 3, 11))
    b = features(
        agency="probation", given_names="John", family_name="Smith", sex="M", date_of_birth=date(1971, 3, 12)
    )
    assert matcher.compare(a, b).verdict == REVIEW


def test_the_same_valid_nhs_number_and_the_same_names_link_despite_a_mistyped_date_of_birth(
    matcher: Matcher,
) -> None:
    a = features(nhs_number=NHS_A, given_names="Lisa", family_name="Davis", date_of_birth=date(2007, 12, 30))
    b = features(
        agency="council-housing",
        nhs_number=NHS_A,
        given_names="Lisa",
        family_name="Davis",
        date_of_birth=date(2008, 11, 28),
    )
    outcome = matcher.compare(a, b)
    assert ("date_of_birth", "disagree") in outcome.levels
    assert (outcome.verdict, outcome.rule) == (LINK, RULE_NHS_NUMBER)


def test_a_slip_in_a_two_digit_birth_year_is_one_part_of_the_date_wrong(matcher: Matcher) -> None:
    a = features(date_of_birth=date(2000, 2, 8))
    for typed in (date(1990, 2, 8), date(2010, 2, 8)):
        b = features(agency="council-housing", date_of_birth=typed)
        assert ("date_of_birth", "one-part") in matcher.compare(a, b).levels
    # A different day and month as well is not one slip.
    b = features(agency="council-housing", date_of_birth=date(1990, 3, 9))
    assert ("date_of_birth", "one-part") not in matcher.compare(a, b).levels


def test_a_nickname_with_a_slip_in_it_is_a_weak_given_name_agreement(matcher: Matcher) -> None:
    jim = features(given_names="Jim", family_name="Brown", sex="M")
    jmes = features(agency="gp-practice", given_names="Jmes", family_name="Brown", sex="M")
    jon = features(agency="gp-practice", given_names="Jon", family_name="Brown", sex="M")
    assert ("given_name", "similar") in matcher.compare(jim, jmes).levels
    assert ("given_name", "disagree") in matcher.compare(jim, jon).levels


def test_a_swapped_or_doubled_letter_does_not_make_a_name_of_the_other_sex() -> None:
    assert sex_neutral_slip("WILLAIM", "WILLIAM")
    assert sex_neutral_slip("DEECLAN", "DECLAN")
    assert not sex_neutral_slip("JOAN", "JOHN")
    assert not sex_neutral_slip("PAULA", "PAUL")
    assert not sex_neutral_slip("LOUISE", "LOUIS")
    assert not sex_neutral_slip("JANE", "JANE")


def test_a_given_name_slip_with_the_sex_wrong_links_only_when_the_slip_cannot_change_the_sex(
    matcher: Matcher,
) -> None:
    shared: dict[str, Any] = {
        "family_name": "Bailey",
        "date_of_birth": date(1994, 2, 10),
        "address_lines": ("5 Reid Grove", "Salford"),
        "postcode": "M30 9WR",
    }
    william = features(given_names="William", sex="M", **shared)
    willaim = features(agency="jobcentre", given_names="Willaim", sex="F", **shared)
    assert matcher.compare(william, willaim).verdict == LINK
    john = features(given_names="John", sex="M", **shared)
    joan = features(agency="jobcentre", given_names="Joan", sex="F", **shared)
    outcome = matcher.compare(john, joan)
    assert outcome.verdict == REVIEW
    assert outcome.review_reason == REVIEW_GIVEN_NAMES_DIFFER


def test_the_variants_of_a_nickname_include_the_full_name_and_its_other_nicknames() -> None:
    variants = default_nicknames().variants("JIM")
    assert {"JIM", "JAMES"} <= variants
    assert default_nicknames().variants("ZEBEDEE") == frozenset({"ZEBEDEE"})


def test_a_day_of_the_month_far_off_is_not_a_year_slip(matcher: Matcher) -> None:
    a = features(given_names="Mohammed", family_name="Khan", sex="M", date_of_birth=date(1994, 11, 5))
    b = features(
        agency="council-asc",
        given_names="Mohammed",
        family_name="Khan",
        sex="M",
        date_of_birth=date(1994, 11, 30),
    )
    outcome = matcher.compare(a, b)
    assert ("date_of_birth", "one-part") not in outcome.levels
    assert outcome.verdict != LINK
