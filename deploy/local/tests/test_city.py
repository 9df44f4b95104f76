"""The synthetic city: deterministic, valid where it should be, and telling the stories the demo needs."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from joinedup.contract.jsonl import InvalidSubmission
from joinedup.contract.sdk import SubmissionBuilder
from joinedup.contract.vocabularies import vocabularies
from joinedup.local.synthetic.city import (
    ANSWERS,
    FIRST_HAND,
    City,
    CitySubmission,
    build_city,
    read_truth_csv,
    repeat_pairs,
    write_truth_csv,
)

BUILT_AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def city() -> City:
    return build_city(7, 300)


def _when(submission: CitySubmission) -> datetime:
    item = submission.item
    for name in ("occurred_at", "referred_at", "responded_at", "withdrawn_at", "valid_from"):
        if name in item:
            return datetime.fromisoformat(item[name])
    raise AssertionError(f"{submission.kind} has no time")


def _subject_key(submission: CitySubmission) -> tuple[str, str]:
    return (submission.agency, submission.item["subject"]["local_person_id"])


def test_the_same_seed_builds_the_same_city_and_another_seed_a_different_one() -> None:
    first, again, other = build_city(11, 60), build_city(11, 60), build_city(12, 60)
    assert [s.item for s in first.submissions] == [s.item for s in again.submissions]
    assert first.truth == again.truth
    assert first.family == again.family
    assert [s.item for s in first.submissions] != [s.item for s in other.submissions]


def test_the_city_is_a_year_of_many_agencies_and_kinds(city: City) -> None:
    assert len(city.agencies) >= 8
    kinds = {kind for _, kind in city.counts()}
    assert kinds == {
        "ReferralSubmission",
        "ReferralResponse",
        "ReferralWithdrawal",
        "AssessmentRecord",
        "ContactRecord",
        "ConsentStatement",
    }
    contact_types = {s.item["contact_type"] for s in city.submissions if s.kind == "ContactRecord"}
    assert {"police-callout", "ae-attendance", "home-visit", "ambulance-callout", "eviction-notice"} <= (
        contact_types
    )
    assert "benefit-sanction" in contact_types


def test_every_submission_but_the_planted_ones_passes_the_sdk_checks(city: City) -> None:
    builders = {a: SubmissionBuilder(a, clock=lambda: BUILT_AT) for a in city.agencies}
    refused = []
    for submission in city.submissions:
        if not submission.valid:
            continue
        try:
            builders[submission.agency].build(submission.item)
        except InvalidSubmission as exc:
            refused.append((submission.kind, str(exc)))
    assert refused == []


def test_the_planted_invalid_submissions_break_the_rule_they_are_planted_for(city: City) -> None:
    planted = {s.expected_rejection: s for s in city.submissions if not s.valid}
    assert set(planted) == {
        "unknown-assessment-type",
        "invalid-nhs-number",
        "date-in-future",
        "unknown-referral",
    }
    for reason in ("unknown-assessment-type", "invalid-nhs-number"):
        submission = planted[reason]
        with pytest.raises(InvalidSubmission):
            SubmissionBuilder(submission.agency, clock=lambda: BUILT_AT).build(submission.item)
    assert _when(planted["date-in-future"]) > datetime.combine(date(2040, 1, 1), datetime.min.time(), UTC)
    made = {(s.agency, s.item["referral_ref"]) for s in city.submissions if s.kind == "ReferralSubmission"}
    orphan = planted["unknown-referral"].item
    assert (orphan["referring_agency"], orphan["referral_ref"]) not in made


def test_every_valid_time_lies_in_the_simulated_year(city: City) -> None:
    end = datetime.combine(city.reference_date + timedelta(days=1), datetime.min.time(), UTC)
    start = end - timedelta(days=400)
    times = [_when(s) for s in city.submissions if s.valid]
    assert all(start <= t <= end for t in times)


def test_answers_come_in_the_second_phase_after_the_referrals_they_answer(city: City) -> None:
    referred = {
        (s.agency, s.item["referral_ref"]): (s, _when(s))
        for s in city.submissions
        if s.kind == "ReferralSubmission"
    }
    answers = [
        s
        for s in city.submissions
        if s.valid and (s.kind == "ReferralResponse" or (s.kind == "AssessmentRecord" and s.item["referral"]))
    ]
    assert answers
    for answer in answers:
        assert answer.phase == ANSWERS
        link = answer.item.get("referral") or {
            "agency": answer.item["referring_agency"],
            "referral_ref": answer.item["referral_ref"],
        }
        submission, referred_at = referred[(link["agency"], link["referral_ref"])]
        assert submission.phase == FIRST_HAND
        assert submission.item["to_agency"] == answer.agency
        assert _when(answer) > referred_at
    actions = {s.item["action"] for s in answers if s.kind == "ReferralResponse"}
    assert actions == {"accept", "decline", "close"}


def test_the_complex_family_touches_many_agencies_with_dozens_of_police_callouts(city: City) -> None:
    family = set(city.family.person_ids)
    assert len(family) >= 4
    theirs = [s for s in city.submissions if "subject" in s.item and city.truth[_subject_key(s)] in family]
    contacts = [s for s in theirs if s.kind == "ContactRecord"]
    assert len({s.agency for s in contacts}) >= 5
    assert len(contacts) >= 80
    assert sum(1 for s in contacts if s.item["contact_type"] == "police-callout") >= 24
    assert {"ae-attendance", "injunction", "court-appearance"} <= {s.item["contact_type"] for s in contacts}
    assert any(s.agency == "youth-offending" for s in contacts)
    assert sum(1 for s in theirs if s.kind == "ReferralSubmission") >= 4


def test_the_complex_family_is_assessed_again_inside_the_repeat_windows(city: City) -> None:
    pairs = repeat_pairs(city, city.family.person_ids)
    assert len(pairs) >= 2
    assert any(first.agency != later.agency for first, later in pairs), "a repeat across two agencies"
    types = vocabularies().assessment_types
    for first, later in pairs:
        assert types.equivalent(first.item["assessment_type"], later.item["assessment_type"])
        kind = types.get(first.item["assessment_type"])
        assert kind is not None
        assert timedelta(0) <= _when(later) - _when(first) <= timedelta(days=kind.repeat_window_days)
    assert len(repeat_pairs(city)) > len(pairs), "the rest of the city has repeats too"


def test_some_consent_is_given_and_later_withdrawn(city: City) -> None:
    statements: dict[tuple[str, str], list[CitySubmission]] = defaultdict(list)
    for s in city.submissions:
        if s.kind == "ConsentStatement":
            statements[(s.agency, s.item["statement_ref"])].append(s)
    withdrawn = [
        versions
        for versions in statements.values()
        if [v.item["kind"] for v in versions] == ["given", "withdrawn"]
        and [v.item["version"] for v in versions] == [1, 2]
    ]
    assert withdrawn
    assert all(_when(given) < _when(later) for given, later in withdrawn)
    assert any(versions[0].item["kind"] == "given" and len(versions) == 1 for versions in statements.values())


def test_sharing_agreements_use_known_codes(city: City) -> None:
    vocab = vocabularies()
    assert len(city.agreements) >= 3
    for agreement in city.agreements:
        body = agreement.request_body()
        assert set(body["owner_agencies"]) | set(body["recipient_agencies"]) <= vocab.agencies.code_set()
        assert set(body["purposes"]) <= vocab.purposes.code_set()
        assert set(body["data_categories"]) <= vocab.data_categories.code_set()
        assert body["lawful_basis"] in vocab.lawful_bases
        assert body["legal_reference"]
        assert set(body["override_purposes"]) <= {p.code for p in vocab.purposes.codes if p.override}


def test_the_truth_names_every_subject_and_survives_a_csv_round_trip(city: City, tmp_path: Path) -> None:
    subjects = {_subject_key(s) for s in city.submissions if "subject" in s.item}
    assert subjects == set(city.truth)
    path = write_truth_csv(city.truth_rows(), tmp_path / "demo" / "truth.csv")
    assert read_truth_csv(path) == dict(city.truth)
    assert read_truth_csv(tmp_path / "missing.csv") == {}


def test_the_referral_service_accepts_the_whole_city_but_the_planted_submissions(city: City) -> None:
    """Every submission through the referral service's own handler, in publishing order (phase 1 of every
    agency, then phase 2), on an in-memory store: only the planted ones are rejected, each for its reason."""
    from joinedup.local.simulate import unchecked_record
    from joinedup.referral.adapters.mapping import submission_fields
    from joinedup.referral.adapters.store_memory import MemoryReferralStore
    from joinedup.referral.app.handlers import handle_record
    from joinedup.referral.app.ports import Coordinates
    from joinedup.referral.app.reference import default_reference_data

    store, reference = MemoryReferralStore(), default_reference_data()
    builders = {a: SubmissionBuilder(a, clock=lambda: BUILT_AT) for a in city.agencies}
    outcomes: list[tuple[str | None, str]] = []
    for phase in (FIRST_HAND, ANSWERS):
        for agency in city.agencies:
            for offset, submission in enumerate(city.for_agency(agency, phase)):
                record = (
                    builders[agency].build(submission.item)
                    if submission.valid
                    else unchecked_record(submission, lambda: BUILT_AT)
                )
                where = Coordinates(f"joinedup.intake.{agency}", 0, offset, BUILT_AT)
                outcome = handle_record(
                    record.avro_name, submission_fields(record), agency, where, store, reference
                )
                if outcome is None:
                    assert submission.kind == "ConsentStatement"
                    continue
                store.commit({})
                reason = getattr(outcome.receipt, "reason_code", None)
                outcomes.append((reason, submission.expected_rejection or ""))
    rejected = sorted((reason, planted) for reason, planted in outcomes if reason is not None)
    assert rejected == sorted((p, p) for _, p in outcomes if p)
    expected = city.expected()
    assert sum(1 for reason, _ in outcomes if reason is None) == expected.referral_accepted
    assert Counter(reason for reason, _ in outcomes if reason is not None) == expected.rejected
