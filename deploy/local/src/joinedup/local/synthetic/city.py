"""The synthetic city: what every agency submits to joinedup in one year, deterministic from a seed.

``build_city(seed, persons)`` draws a population with :func:`generate_population` (each agency's noisy records
of each person, with ground truth) and writes the year as intake submissions, as JSON-lines objects (the
``type`` field plus the record's fields, see :mod:`joinedup.contract.jsonl`):

- contacts typical of each agency (police call-outs, A&E attendances, ambulance call-outs, home visits,
  eviction notices, benefit sanctions...) and standalone assessments;
- referrals between agencies that know the same person, answered by the receiving agency (accept, decline,
  close, an assessment under an accepted referral) or withdrawn by the referrer;
- assessments repeated across agencies inside their repeat window (a housing needs assessment and a probation
  accommodation screen; a work capability assessment and a probation employment screen; a CMHT assessment
  and a Mental Health Act assessment);
- consent given and, for some, withdrawn later (a later version of the same statement), and a few objections;
- a "complex family": the household whose members touch the most agencies, with dozens of police call-outs,
  A&E visits, injunctions, youth offending contacts and repeat assessments in one year;
- a few deliberately invalid submissions (an unknown assessment type, a bad NHS number, a future date, a
  response to a referral nobody made), each with the rejection it should earn;
- information sharing agreements between some agencies, as data for the consent service's DPO API.

Every time is relative to ``reference_date`` (the last day of the year simulated), never the wall clock.
An agency's own system checks NHS and NI numbers before sending, so a number the generator mistyped beyond
its check is left out of the valid submissions (the identity resolver then has to link on the rest).
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from joinedup.contract.identifiers import nhs_number_is_valid, ni_number_is_valid
from joinedup.contract.vocabularies import vocabularies
from joinedup.local.synthetic.agencies import local_id_prefix
from joinedup.local.synthetic.people import TruePerson
from joinedup.local.synthetic.population import (
    DEFAULT_REFERENCE_DATE,
    SyntheticPopulation,
    SyntheticRecord,
    generate_population,
)
from joinedup.local.synthetic.uk_numbers import mistype_nhs_number, new_nhs_number

CITY_AGENCIES: tuple[str, ...] = (
    "charity-shelter",
    "council-asc",
    "council-childrens",
    "council-housing",
    "jobcentre",
    "nhs-acute-trust",
    "nhs-mh-trust",
    "police",
    "probation",
    "youth-offending",
)
DEFAULT_SEED = 7
DEFAULT_PERSONS = 300
YEAR_DAYS = 365

FIRST_HAND = 1
"""Phase 1: what agencies report of their own accord (contacts, assessments, referrals, withdrawals,
consent statements)."""
ANSWERS = 2
"""Phase 2: receiving agencies' answers to the referrals of phase 1 (responses and assessments under a
referral), published once the referrals are in."""

TRUTH_COLUMNS = ("agency", "local_person_id", "true_person_id")


@dataclass(frozen=True)
class AgencyHabits:
    """What an agency typically records: contact types, standalone assessments, data categories."""

    contacts: tuple[str, ...]
    assessments: tuple[str, ...]
    categories: tuple[str, ...]
    receives_need: str | None
    """The need code of a referral made to this agency (None: referrals are not made to it here)."""
    requested_assessment: str | None = None


HABITS: dict[str, AgencyHabits] = {
    "charity-shelter": AgencyHabits(
        ("office-appointment", "phone-contact"), (), ("housing",), "accommodation"
    ),
    "council-asc": AgencyHabits(
        ("home-visit", "phone-contact"),
        ("care-act-s9-needs", "care-act-carers"),
        ("social-care",),
        "care-and-support",
        "care-act-s9-needs",
    ),
    "council-childrens": AgencyHabits(
        ("home-visit", "office-appointment"),
        ("early-help", "children-act-s17"),
        ("social-care",),
        "child-welfare",
        "early-help",
    ),
    "council-housing": AgencyHabits(
        ("office-appointment", "eviction-notice"), ("hra-s189a",), ("housing",), "accommodation", "hra-s189a"
    ),
    "jobcentre": AgencyHabits(
        ("office-appointment", "benefit-sanction"),
        ("work-coach", "work-capability"),
        ("employment-benefits",),
        "employment",
        "work-coach",
    ),
    "nhs-acute-trust": AgencyHabits(
        ("ae-attendance", "ambulance-callout", "hospital-admission"), (), ("health",), None
    ),
    "nhs-mh-trust": AgencyHabits(
        ("home-visit", "phone-contact"),
        ("cmht-assessment", "cpa-review"),
        ("mental-health",),
        "mental-health",
        "cmht-assessment",
    ),
    "police": AgencyHabits(("police-callout", "arrest"), (), ("criminal-justice",), None),
    "probation": AgencyHabits(
        ("office-appointment", "court-appearance"),
        ("oasys",),
        ("criminal-justice",),
        "offending",
        "oasys",
    ),
    "youth-offending": AgencyHabits(
        ("office-appointment", "court-appearance"), (), ("criminal-justice",), "offending"
    ),
}

REPEAT_PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("council-housing", "hra-s189a", "probation", "probation-accommodation-screen"),
    ("jobcentre", "work-capability", "probation", "probation-employment-screen"),
    ("nhs-mh-trust", "cmht-assessment", "nhs-mh-trust", "mha-assessment"),
)
"""(agency, assessment type, agency, assessment type): pairs of the same equivalence group that the city
repeats for some people (the second inside the first's repeat window)."""

DECLINE_REASONS = ("no capacity this quarter", "does not meet eligibility criteria", "already supported")
CLOSE_REASONS = ("support plan completed", "moved out of area", "disengaged after three attempts")
WITHDRAW_REASONS = ("referred in error", "needs met elsewhere")


@dataclass(frozen=True)
class CitySubmission:
    """One submission an agency publishes: a JSON-lines object, its phase, and (for the deliberate invalid
    ones) the reason code the referral service should reject it with."""

    agency: str
    phase: int
    item: Mapping[str, Any]
    expected_rejection: str | None = None

    @property
    def kind(self) -> str:
        return str(self.item["type"])

    @property
    def valid(self) -> bool:
        return self.expected_rejection is None


@dataclass(frozen=True)
class SharingAgreement:
    """An information sharing agreement a DPO registers with the consent service (POST /v1/agreements)."""

    agreement_id: str
    owner_agencies: tuple[str, ...]
    recipient_agencies: tuple[str, ...]
    purposes: tuple[str, ...]
    data_categories: tuple[str, ...]
    lawful_basis: str
    legal_reference: str
    valid_from: datetime
    valid_until: datetime | None = None
    override_purposes: tuple[str, ...] = ()

    def request_body(self) -> dict[str, Any]:
        """The JSON body of ``POST /v1/agreements`` (version 1)."""
        return {
            "agreement_id": self.agreement_id,
            "version": 1,
            "owner_agencies": list(self.owner_agencies),
            "recipient_agencies": list(self.recipient_agencies),
            "purposes": list(self.purposes),
            "data_categories": list(self.data_categories),
            "lawful_basis": self.lawful_basis,
            "legal_reference": self.legal_reference,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "override_purposes": list(self.override_purposes),
        }


@dataclass(frozen=True)
class ComplexFamily:
    """The household whose year the city dramatises: its true persons and their records."""

    person_ids: tuple[str, ...]
    records: tuple[tuple[str, str], ...]
    """(agency, local_person_id) of every record of a member the city uses."""


@dataclass(frozen=True)
class ExpectedOutcome:
    """What the pipeline should reach once it has processed the whole city (what ``demo --once`` checks)."""

    referral_accepted: int
    """Receipts ``SubmissionAccepted`` from the referral service (one canonical event each)."""
    consent_statements: int
    """Consent statements (the consent service's receipts), of which none is planted invalid."""
    rejected: Counter[str]
    """Rejections by reason code: the planted invalid submissions."""
    records: int
    """Source records the identity resolver should place (every subject record of the city)."""
    repeat_pairs: int
    """Pairs of completed assessments of one true person, equivalent and inside the first's window."""


@dataclass(frozen=True)
class City:
    seed: int
    reference_date: date
    population: SyntheticPopulation
    submissions: tuple[CitySubmission, ...]
    truth: Mapping[tuple[str, str], str]
    """(agency, local_person_id) -> true person id, for every record a submission names."""
    family: ComplexFamily
    agreements: tuple[SharingAgreement, ...]

    @property
    def agencies(self) -> tuple[str, ...]:
        return tuple(sorted({s.agency for s in self.submissions}))

    def for_agency(self, agency: str, phase: int | None = None) -> list[CitySubmission]:
        return [s for s in self.submissions if s.agency == agency and (phase is None or s.phase == phase)]

    def counts(self) -> Counter[tuple[str, str]]:
        """Submissions per (agency, kind)."""
        return Counter((s.agency, s.kind) for s in self.submissions)

    def expected(self) -> ExpectedOutcome:
        valid = [s for s in self.submissions if s.valid]
        statements = sum(1 for s in valid if s.kind == "ConsentStatement")
        return ExpectedOutcome(
            referral_accepted=len(valid) - statements,
            consent_statements=statements,
            rejected=Counter(s.expected_rejection for s in self.submissions if s.expected_rejection),
            records=len(self.truth),
            repeat_pairs=len(repeat_pairs(self)),
        )

    def truth_rows(self) -> list[tuple[str, str, str]]:
        return sorted((agency, local, person) for (agency, local), person in self.truth.items())


# ---------------------------------------------------------------------------------------------- writing


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _subject(record: SyntheticRecord, today: date) -> dict[str, Any]:
    """The record's PersonRecord as JSON, without what the agency's own checks would refuse: an NHS or NI
    number that fails its check, a date of birth after ``today`` (a typo the generator can make)."""
    fields = record.person_record()
    if fields["nhs_number"] is not None and not nhs_number_is_valid(fields["nhs_number"]):
        fields["nhs_number"] = None
    if fields["ni_number"] is not None and not ni_number_is_valid(fields["ni_number"]):
        fields["ni_number"] = None
    born = fields["date_of_birth"]
    fields["date_of_birth"] = born.isoformat() if born is not None and born <= today else None
    return fields


class _Writer:
    """Writes submissions in a fixed order from one seeded random source."""

    def __init__(self, rng: random.Random, reference_date: date) -> None:
        self.rng = rng
        self.reference_date = reference_date
        self.start = reference_date - timedelta(days=YEAR_DAYS)
        self.end = datetime.combine(reference_date, time(23, 0), UTC)
        self.submissions: list[CitySubmission] = []
        self._numbers: Counter[tuple[str, str]] = Counter()

    def ref(self, agency: str, letter: str) -> str:
        self._numbers[(agency, letter)] += 1
        return f"{local_id_prefix(agency)}-{letter}{self._numbers[(agency, letter)]:06d}"

    def subject(self, record: SyntheticRecord) -> dict[str, Any]:
        return _subject(record, self.reference_date)

    def day(self, low: int = 0, high: int = YEAR_DAYS - 1) -> int:
        return self.rng.randint(low, high)

    def at(self, day: int) -> datetime:
        """A working-hours moment on day ``day`` of the year (clamped to the year)."""
        day = max(0, min(day, YEAR_DAYS))
        moment = datetime.combine(self.start + timedelta(days=day), time(0, 0), UTC)
        return min(moment + timedelta(minutes=self.rng.randint(8 * 60, 20 * 60)), self.end)

    def add(
        self, agency: str, item: dict[str, Any], phase: int = FIRST_HAND, rejection: str | None = None
    ) -> None:
        self.submissions.append(CitySubmission(agency, phase, item, rejection))

    def contact(
        self, record: SyntheticRecord, contact_type: str, day: int, summary: str | None = None
    ) -> str:
        ref = self.ref(record.agency, "C")
        item: dict[str, Any] = {
            "type": "ContactRecord",
            "contact_ref": ref,
            "subject": self.subject(record),
            "contact_type": contact_type,
            "occurred_at": _iso(self.at(day)),
            "summary": summary,
            "related_refs": [],
            "data_categories": list(HABITS[record.agency].categories),
            "duration_minutes": self.rng.choice((10, 20, 30, 45, 60, 90)),
        }
        self.add(record.agency, item)
        return ref

    def assessment(
        self,
        record: SyntheticRecord,
        assessment_type: str,
        day: int,
        *,
        referral: tuple[str, str] | None = None,
        scheduled_first: bool = False,
    ) -> str:
        ref = self.ref(record.agency, "A")
        phase = ANSWERS if referral is not None else FIRST_HAND
        base: dict[str, Any] = {
            "type": "AssessmentRecord",
            "assessment_ref": ref,
            "subject": self.subject(record),
            "assessment_type": assessment_type,
            "referral": {"agency": referral[0], "referral_ref": referral[1]} if referral else None,
            "data_categories": list(HABITS[record.agency].categories),
        }
        if scheduled_first:
            self.add(
                record.agency, {**base, "status": "scheduled", "occurred_at": _iso(self.at(day - 7))}, phase
            )
        self.add(record.agency, {**base, "status": "completed", "occurred_at": _iso(self.at(day))}, phase)
        return ref

    def referral(
        self,
        source: SyntheticRecord,
        target: SyntheticRecord,
        day: int,
        *,
        outcome: str,
        urgency: str = "routine",
        assess: bool = False,
    ) -> str:
        """``source`` refers the person to ``target``'s agency. ``outcome``: accept, accept-close, decline,
        withdraw or none (not yet answered)."""
        habits = HABITS[target.agency]
        ref = self.ref(source.agency, "R")
        self.add(
            source.agency,
            {
                "type": "ReferralSubmission",
                "referral_ref": ref,
                "subject": self.subject(source),
                "to_agency": target.agency,
                "to_service": None,
                "need_codes": [habits.receives_need or "care-and-support"],
                "requested_assessment_type": habits.requested_assessment,
                "urgency": urgency,
                "referred_at": _iso(self.at(day)),
                "data_categories": list(HABITS[source.agency].categories),
                "summary": None,
            },
        )
        if outcome == "withdraw":
            self.add(
                source.agency,
                {
                    "type": "ReferralWithdrawal",
                    "referral_ref": ref,
                    "reason": self.rng.choice(WITHDRAW_REASONS),
                    "withdrawn_at": _iso(self.at(day + 2)),
                },
            )
            return ref
        if outcome == "none":
            return ref
        answered = day + self.rng.randint(1, 10)
        if outcome == "decline":
            self._respond(
                target.agency, source.agency, ref, "decline", answered, self.rng.choice(DECLINE_REASONS)
            )
            return ref
        self._respond(target.agency, source.agency, ref, "accept", answered, None)
        assessed = answered + self.rng.randint(5, 25)
        if assess and habits.requested_assessment is not None:
            self.assessment(target, habits.requested_assessment, assessed, referral=(source.agency, ref))
        if outcome == "accept-close":
            closed = assessed + self.rng.randint(10, 60)
            self._respond(target.agency, source.agency, ref, "close", closed, self.rng.choice(CLOSE_REASONS))
        return ref

    def _respond(
        self, agency: str, referrer: str, ref: str, action: str, day: int, reason: str | None
    ) -> None:
        self.add(
            agency,
            {
                "type": "ReferralResponse",
                "referral_ref": ref,
                "referring_agency": referrer,
                "action": action,
                "reason": reason,
                "responded_at": _iso(self.at(day)),
            },
            ANSWERS,
        )

    def consent(
        self,
        record: SyntheticRecord,
        day: int,
        *,
        recipients: Sequence[str],
        purposes: Sequence[str],
        withdrawn_after: int | None = None,
        kind: str = "given",
    ) -> str:
        ref = self.ref(record.agency, "S")
        statement: dict[str, Any] = {
            "type": "ConsentStatement",
            "statement_ref": ref,
            "version": 1,
            "subject": self.subject(record),
            "kind": kind,
            "scope": {
                "owner_agencies": [record.agency],
                "recipient_agencies": list(recipients),
                "purposes": list(purposes),
                "data_categories": list(HABITS[record.agency].categories),
            },
            "valid_from": _iso(self.at(day)),
            "valid_until": None,
            "captured_by": f"worker-{self.rng.randint(1, 40):02d}",
            "evidence_ref": f"form-{ref}",
        }
        self.add(record.agency, statement)
        if withdrawn_after is not None:
            withdrawal = {
                **statement,
                "version": 2,
                "kind": "withdrawn",
                "valid_from": _iso(self.at(day + withdrawn_after)),
                "evidence_ref": f"call-{ref}",
            }
            self.add(record.agency, withdrawal)
        return ref


# ---------------------------------------------------------------------------------------------- the year


def _everyday_life(writer: _Writer, people: Mapping[str, list[SyntheticRecord]], family: set[str]) -> None:
    rng = writer.rng
    for person_id in sorted(people):
        if person_id in family:
            continue
        records = people[person_id]
        for record in records:
            habits = HABITS[record.agency]
            for _ in range(rng.randint(1, 3)):
                writer.contact(record, rng.choice(habits.contacts), writer.day())
            if habits.assessments and rng.random() < 0.25:
                writer.assessment(
                    record, rng.choice(habits.assessments), writer.day(), scheduled_first=rng.random() < 0.3
                )
        by_agency = {r.agency: r for r in records}
        for first_agency, first_type, second_agency, second_type in REPEAT_PAIRS:
            if first_agency in by_agency and second_agency in by_agency and rng.random() < 0.5:
                day = writer.day(0, YEAR_DAYS - 60)
                writer.assessment(by_agency[first_agency], first_type, day)
                writer.assessment(by_agency[second_agency], second_type, day + rng.randint(7, 25))
        receivers = [r for r in records if HABITS[r.agency].receives_need is not None]
        if len(records) >= 2 and receivers and rng.random() < 0.4:
            target = rng.choice(receivers)
            sources = [r for r in records if r.agency != target.agency]
            if sources:
                outcome = rng.choices(
                    ("accept", "accept-close", "decline", "withdraw", "none"), weights=(30, 30, 20, 8, 12)
                )[0]
                writer.referral(
                    rng.choice(sources),
                    target,
                    writer.day(0, YEAR_DAYS - 120),
                    outcome=outcome,
                    urgency=rng.choice(("routine", "routine", "urgent")),
                    assess=rng.random() < 0.7,
                )
        mh = by_agency.get("nhs-mh-trust")
        if mh is not None and rng.random() < 0.2:
            writer.consent(
                mh,
                writer.day(0, YEAR_DAYS - 150),
                recipients=("council-asc", "council-housing"),
                purposes=("care-coordination", "direct-care"),
                withdrawn_after=rng.randint(30, 140) if rng.random() < 0.4 else None,
            )
        shelter = by_agency.get("charity-shelter")
        if shelter is not None and rng.random() < 0.08:
            writer.consent(
                shelter,
                writer.day(),
                recipients=("police",),
                purposes=("care-coordination",),
                kind="objection",
            )


def _choose_family(population: SyntheticPopulation, reference_date: date) -> tuple[TruePerson, ...]:
    """The biggest household, preferring one with adults and a teenager (first in generation order)."""
    by_id = {p.person_id: p for p in population.persons}

    def score(household: tuple[str, ...]) -> tuple[int, int, int]:
        ages = [by_id[m].age_on(reference_date) for m in household]
        return (len(household), int(any(a >= 18 for a in ages)), int(any(10 <= a < 18 for a in ages)))

    if not population.households:
        return tuple(population.persons[:1])
    best = max(population.households, key=score)  # max keeps the first of equals
    return tuple(by_id[m] for m in best)


class _FamilyRecords:
    """The family's records at each agency: the generator's, plus exact ones for agencies it left out."""

    def __init__(self, population: SyntheticPopulation, truth: dict[tuple[str, str], str]) -> None:
        self.truth = truth
        self.by_person: dict[tuple[str, str], SyntheticRecord] = {}
        for record in population.records:
            self.by_person.setdefault((truth[record.key], record.agency), record)
        self._next: Counter[str] = Counter()
        for agency, local in truth:
            self._next[agency] = max(self._next[agency], int(local[len(local_id_prefix(agency)) :]))
        self.used: list[tuple[str, str]] = []

    def of(self, person: TruePerson, agency: str) -> SyntheticRecord:
        record = self.by_person.get((person.person_id, agency))
        if record is None:
            self._next[agency] += 1
            address = person.addresses[-1]
            adult = person.nhs_number if agency.startswith(("nhs", "council")) else None
            record = SyntheticRecord(
                agency=agency,
                local_person_id=f"{local_id_prefix(agency)}{self._next[agency]:07d}",
                nhs_number=adult,
                ni_number=person.ni_number if agency in ("jobcentre", "probation") else None,
                given_names=person.given_names[0],
                family_name=person.family_name,
                date_of_birth=person.date_of_birth,
                sex=person.sex,
                address_lines=address.lines,
                postcode=address.postcode,
                phone=person.phone,
            )
            self.by_person[(person.person_id, agency)] = record
            self.truth[record.key] = person.person_id
        if record.key not in self.used:
            self.used.append(record.key)
        return record


def _complex_family_year(
    writer: _Writer, members: Sequence[TruePerson], records: _FamilyRecords, reference_date: date
) -> None:
    """The year of one household known to everyone: a few hundred submissions."""
    rng = writer.rng
    ages = {m.person_id: m.age_on(reference_date) for m in members}
    adults = sorted((m for m in members if ages[m.person_id] >= 18), key=lambda m: -ages[m.person_id])
    young = [m for m in members if ages[m.person_id] < 18]
    teens = [m for m in young if ages[m.person_id] >= 10]
    lead = adults[0] if adults else members[0]
    partner = adults[1] if len(adults) > 1 else lead
    callout_subjects = [*adults, *teens] or list(members)

    def days(count: int, low: int = 0, high: int = YEAR_DAYS - 1) -> list[int]:
        return sorted(writer.day(low, high) for _ in range(count))

    police = {m.person_id: records.of(m, "police") for m in callout_subjects}
    for day in days(42):
        subject = callout_subjects[rng.randrange(len(callout_subjects))]
        writer.contact(
            police[subject.person_id], "police-callout", day, "domestic disturbance at the address"
        )
    for day in days(4):
        writer.contact(
            police[partner.person_id if partner in callout_subjects else callout_subjects[0].person_id],
            "arrest",
            day,
        )
    writer.contact(
        police[callout_subjects[0].person_id],
        "injunction",
        writer.day(60, 120),
        "non-molestation order served",
    )
    housing_lead = records.of(lead, "council-housing")
    writer.contact(housing_lead, "injunction", writer.day(150, 200), "anti-social behaviour injunction")
    writer.contact(housing_lead, "eviction-notice", writer.day(200, 240))
    for member in members:
        acute = records.of(member, "nhs-acute-trust")
        for day in days(rng.randint(3, 5)):
            writer.contact(acute, "ae-attendance", day)
        for day in days(rng.randint(1, 2)):
            writer.contact(acute, "ambulance-callout", day)
    writer.contact(records.of(lead, "nhs-acute-trust"), "hospital-admission", writer.day(100, 140))
    mh = records.of(lead, "nhs-mh-trust")
    for day in days(8):
        writer.contact(mh, "home-visit", day)
    writer.assessment(mh, "cmht-assessment", 70, scheduled_first=True)
    writer.assessment(mh, "mha-assessment", 88)  # within the 30-day window of the CMHT assessment
    writer.assessment(mh, "chc-checklist", 95)
    asc = records.of(lead, "council-asc")
    writer.assessment(asc, "care-act-s9-needs", 90)  # the Care Act and CHC assessments of the same fortnight
    writer.assessment(asc, "care-act-carers", 200)
    writer.assessment(records.of(partner, "council-housing"), "hra-s189a", 130)
    probation = records.of(partner, "probation")
    writer.assessment(probation, "probation-accommodation-screen", 165)  # same group, inside 180 days
    writer.assessment(probation, "oasys", 40)
    for day in days(10):
        writer.contact(probation, "office-appointment", day)
    writer.contact(probation, "court-appearance", writer.day(20, 35))
    jobcentre = records.of(lead, "jobcentre")
    writer.assessment(jobcentre, "work-capability", 150)
    writer.assessment(records.of(lead, "probation"), "probation-employment-screen", 190)  # inside 365 days
    for day in days(2, 160, 300):
        writer.contact(jobcentre, "benefit-sanction", day)
    for child in young:
        childrens = records.of(child, "council-childrens")
        for day in days(6):
            writer.contact(childrens, "home-visit", day)
        writer.assessment(childrens, "early-help", 30)
        writer.assessment(childrens, "children-act-s17", 95)  # inside the 180-day window of early help
    for teen in teens:
        yot = records.of(teen, "youth-offending")
        for day in days(10):
            writer.contact(yot, "office-appointment", day)
        for day in days(2):
            writer.contact(yot, "court-appearance", day)
    shelter = records.of(lead, "charity-shelter")
    for day in days(6, 220, 360):
        writer.contact(shelter, "office-appointment", day)
    # Referrals between the agencies around the family.
    if teens:
        teen = teens[0]
        writer.referral(
            police[teen.person_id],
            records.of(teen, "council-childrens"),
            45,
            outcome="accept-close",
            urgency="urgent",
        )
    else:
        writer.referral(
            police[callout_subjects[0].person_id], asc, 45, outcome="accept-close", urgency="urgent"
        )
    writer.referral(records.of(lead, "nhs-acute-trust"), mh, 60, outcome="accept", urgency="urgent")
    writer.referral(probation, records.of(partner, "council-housing"), 120, outcome="accept", assess=False)
    writer.referral(housing_lead, shelter, 210, outcome="decline")
    writer.referral(jobcentre, shelter, 215, outcome="accept")
    writer.consent(mh, 50, recipients=("council-asc", "council-housing", "council-childrens"),
                   purposes=("care-coordination",), withdrawn_after=150)  # fmt: skip


def _deliberately_invalid(writer: _Writer, people: Mapping[str, list[SyntheticRecord]]) -> None:
    """A few submissions the referral service must reject, each with the reason it should give."""
    records = [r for pid in sorted(people) for r in people[pid]]

    def first_at(agency: str) -> SyntheticRecord:
        return next((r for r in records if r.agency == agency), records[0])

    asc, acute, police = first_at("council-asc"), first_at("nhs-acute-trust"), first_at("police")
    bad_nhs = mistype_nhs_number(writer.rng, new_nhs_number(writer.rng))
    drafts: list[tuple[SyntheticRecord, str, Mapping[str, Any]]] = [
        (asc, "unknown-assessment-type", {"assessment_type": "care-act-s99-needs"}),
        (acute, "invalid-nhs-number", {"subject": {**writer.subject(acute), "nhs_number": bad_nhs}}),
        (police, "date-in-future", {"occurred_at": _iso(writer.end + timedelta(days=20 * YEAR_DAYS))}),
    ]
    for record, reason, change in drafts:
        if "assessment_type" in change:
            writer.assessment(record, "care-act-s9-needs", writer.day())
        else:
            writer.contact(record, HABITS[record.agency].contacts[0], writer.day())
        written = writer.submissions.pop()
        writer.add(record.agency, {**written.item, **change}, rejection=reason)
    writer.add(
        "council-housing",
        {
            "type": "ReferralResponse",
            "referral_ref": "NO-SUCH-REFERRAL-1",
            "referring_agency": "police",
            "action": "accept",
            "reason": None,
            "responded_at": _iso(writer.at(200)),
        },
        ANSWERS,
        rejection="unknown-referral",
    )


def sharing_agreements(reference_date: date) -> tuple[SharingAgreement, ...]:
    """The agreements between the city's agencies, in force for the simulated year and after."""
    start = datetime.combine(reference_date - timedelta(days=2 * YEAR_DAYS), time(0, 0), UTC)
    return (
        SharingAgreement(
            "isa-city-mash",
            ("police", "council-childrens", "nhs-acute-trust", "youth-offending"),
            ("police", "council-childrens", "nhs-acute-trust", "youth-offending"),
            ("safeguarding",),
            ("social-care", "health", "criminal-justice"),
            "safeguarding",
            "Children Act 2004 s.11; DPA 2018 Sch 1 para 18",
            start,
            override_purposes=("safeguarding",),
        ),
        SharingAgreement(
            "isa-city-mh-asc",
            ("nhs-mh-trust", "council-asc"),
            ("nhs-mh-trust", "council-asc"),
            ("direct-care", "care-coordination"),
            ("mental-health", "social-care"),
            "health-social-care",
            "Care Act 2014 s.6-7; Health and Social Care Act 2012 s.251B",
            start,
        ),
        SharingAgreement(
            "isa-city-housing-probation",
            ("probation", "council-housing", "charity-shelter"),
            ("probation", "council-housing", "charity-shelter"),
            ("housing-support", "offender-management"),
            ("housing", "criminal-justice"),
            "public-task",
            "Homelessness Reduction Act 2017 s.213B duty to refer",
            start,
        ),
        SharingAgreement(
            "isa-city-jobcentre-probation",
            ("jobcentre", "probation"),
            ("jobcentre", "probation"),
            ("employment-support", "offender-management"),
            ("employment-benefits", "criminal-justice"),
            "public-task",
            "Offender Management Act 2007 s.14",
            start,
            valid_until=datetime.combine(reference_date + timedelta(days=2 * YEAR_DAYS), time(0, 0), UTC),
        ),
    )


def build_city(
    seed: int = DEFAULT_SEED,
    persons: int = DEFAULT_PERSONS,
    *,
    reference_date: date = DEFAULT_REFERENCE_DATE,
) -> City:
    """The city's year: every agency's submissions, in publishing order, with the ground truth."""
    population = generate_population(seed, persons, reference_date=reference_date, agencies=CITY_AGENCIES)
    truth = dict(population.truth)
    people: dict[str, list[SyntheticRecord]] = {}
    for record in population.records:
        people.setdefault(truth[record.key], []).append(record)  # duplicates at one agency report too
    rng = random.Random(f"city:{seed}")  # noqa: S311 - synthetic data must be reproducible from its seed
    writer = _Writer(rng, reference_date)
    members = _choose_family(population, reference_date)
    family_ids = {m.person_id for m in members}
    _everyday_life(writer, people, family_ids)
    family_records = _FamilyRecords(population, truth)
    _complex_family_year(writer, members, family_records, reference_date)
    _deliberately_invalid(writer, people)
    named = {
        (s.agency, s.item["subject"]["local_person_id"]) for s in writer.submissions if "subject" in s.item
    }
    return City(
        seed=seed,
        reference_date=reference_date,
        population=population,
        submissions=tuple(writer.submissions),
        truth={key: person for key, person in sorted(truth.items()) if key in named},
        family=ComplexFamily(tuple(m.person_id for m in members), tuple(family_records.used)),
        agreements=sharing_agreements(reference_date),
    )


def repeat_pairs(
    city: City, persons: Iterable[str] | None = None
) -> list[tuple[CitySubmission, CitySubmission]]:
    """(earlier, later) completed assessments of one true person (of ``persons``, or anyone) that are
    equivalent, the later inside the earlier's repeat window."""
    types = vocabularies().assessment_types
    wanted = set(persons) if persons is not None else None
    by_person: dict[str, list[tuple[datetime, int, CitySubmission]]] = {}
    for index, s in enumerate(city.submissions):
        if not s.valid or s.kind != "AssessmentRecord" or s.item["status"] != "completed":
            continue
        person = city.truth[(s.agency, s.item["subject"]["local_person_id"])]
        if wanted is None or person in wanted:
            by_person.setdefault(person, []).append((datetime.fromisoformat(s.item["occurred_at"]), index, s))
    pairs: list[tuple[CitySubmission, CitySubmission]] = []
    for person in sorted(by_person):
        done = sorted(by_person[person], key=lambda entry: entry[:2])
        for position, (first_at, _, first) in enumerate(done):
            kind = types.get(first.item["assessment_type"])
            if kind is None:
                continue
            window = timedelta(days=kind.repeat_window_days)
            for later_at, _, later in done[position + 1 :]:
                same_group = types.equivalent(first.item["assessment_type"], later.item["assessment_type"])
                if same_group and later_at - first_at <= window:
                    pairs.append((first, later))
    return pairs


# ---------------------------------------------------------------------------------------------- truth file


def write_truth_csv(rows: Iterable[tuple[str, str, str]], path: Path) -> Path:
    """Write (agency, local_person_id, true_person_id) rows as CSV with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(TRUTH_COLUMNS)
        writer.writerows(rows)
    return path


def read_truth_csv(path: Path) -> dict[tuple[str, str], str]:
    """The truth file as (agency, local_person_id) -> true person id; empty if there is no file."""
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as source:
        return {
            (row["agency"], row["local_person_id"]): row["true_person_id"] for row in csv.DictReader(source)
        }
