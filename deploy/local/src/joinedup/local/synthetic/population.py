"""A seeded, UK-shaped synthetic population: every agency's records of each person, with ground truth.

``generate_population(seed, persons, noise)`` returns the records in arrival order (each agency numbers its
own local ids), some later re-observations of the same records with corrected or updated details, and the
truth beside them: which true person each record belongs to, which persons are twins, and which share a
common name. The same arguments always give the same population.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from joinedup.contract.vocabularies import vocabularies
from joinedup.local.synthetic.agencies import local_id_prefix, profile_for, sees_age
from joinedup.local.synthetic.names import NICKNAMES, POSTCODE_UNIT_LETTERS, STREET_ABBREVIATIONS
from joinedup.local.synthetic.noise import NoiseLevel
from joinedup.local.synthetic.people import Address, TruePerson, build_people
from joinedup.local.synthetic.typos import keyboard_typo
from joinedup.local.synthetic.uk_numbers import mistype_nhs_number, mistype_ni_number

DEFAULT_REFERENCE_DATE = date(2025, 6, 30)
AGENCIES_PER_PERSON = ((1, 25), (2, 30), (3, 25), (4, 12), (5, 8))


class SyntheticRecord(BaseModel):
    """One agency's record of a person, shaped like the contract's PersonRecord plus the agency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency: str
    local_person_id: str
    nhs_number: str | None = None
    ni_number: str | None = None
    given_names: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    address_lines: tuple[str, ...] = ()
    postcode: str | None = None
    phone: str | None = None
    email: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.agency, self.local_person_id)

    def person_record(self) -> dict[str, Any]:
        """The joinedup.common.PersonRecord fields as a dict (what an agency puts in a submission)."""
        return {
            "local_person_id": self.local_person_id,
            "nhs_number": self.nhs_number,
            "ni_number": self.ni_number,
            "given_names": self.given_names,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth,
            "sex": self.sex,
            "address_lines": list(self.address_lines),
            "postcode": self.postcode,
            "phone": self.phone,
            "email": self.email,
            "other_identifiers": [],
        }


@dataclass(frozen=True, slots=True)
class SyntheticPopulation:
    seed: int
    noise: NoiseLevel
    persons: tuple[TruePerson, ...]
    records: tuple[SyntheticRecord, ...]
    """In arrival order."""
    updates: tuple[SyntheticRecord, ...]
    """Later observations of records already in ``records`` (same key), in arrival order after them."""
    truth: dict[tuple[str, str], str]
    """(agency, local_person_id) -> true person id."""
    twins: tuple[tuple[str, str], ...]
    common_name_groups: tuple[tuple[str, ...], ...]
    households: tuple[tuple[str, ...], ...]

    def stream(self) -> tuple[SyntheticRecord, ...]:
        """Every observation in arrival order: the records, then the updates."""
        return self.records + self.updates


def _agency_kinds(agencies: Sequence[str] | None) -> list[tuple[str, str]]:
    catalogue = vocabularies().agencies
    codes = sorted(agencies) if agencies is not None else sorted(catalogue.code_set())
    kinds = []
    for code in codes:
        agency = catalogue.get(code)
        kinds.append((code, agency.kind if agency is not None else "third-sector"))
    return kinds


class _Recorder:
    """Writes one agency's record of a true person, with that agency's habits and the noise's errors."""

    def __init__(self, rng: random.Random, noise: NoiseLevel) -> None:
        self.rng = rng
        self.noise = noise

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def record(self, person: TruePerson, agency: str, kind: str) -> SyntheticRecord:
        profile = profile_for(kind)
        given, family = self._names(person)
        return SyntheticRecord(
            agency=agency,
            local_person_id="?",
            nhs_number=self._nhs(person, profile.nhs_number),
            ni_number=self._ni(person, profile.ni_number),
            given_names=given,
            family_name=family,
            date_of_birth=self._dob(person, profile.date_of_birth),
            sex=self._sex(person),
            **self._address(person, profile.address),
            phone=self._maybe(person.phone, profile.phone * (1 - self.noise.phone_missing)),
            email=self._maybe(person.email, profile.email * (1 - self.noise.email_missing)),
        )

    def _maybe(self, value: str | None, p: float) -> str | None:
        return value if value is not None and self.chance(p) else None

    def _nhs(self, person: TruePerson, known: float) -> str | None:
        if not self.chance(known) or self.chance(self.noise.nhs_missing):
            return None
        number = person.nhs_number
        if self.chance(self.noise.nhs_mistyped):
            number = mistype_nhs_number(self.rng, number)
        if self.chance(0.3):
            number = f"{number[:3]} {number[3:6]} {number[6:]}"
        return number

    def _ni(self, person: TruePerson, known: float) -> str | None:
        if person.ni_number is None or not self.chance(known) or self.chance(self.noise.ni_missing):
            return None
        number = person.ni_number
        if self.chance(self.noise.ni_mistyped):
            number = mistype_ni_number(self.rng, number)
        if self.chance(0.3):
            number = number[:8]
        if self.chance(0.2):
            number = " ".join(number[i : i + 2] for i in range(0, len(number), 2))
        return number

    def _names(self, person: TruePerson) -> tuple[str, str]:
        first = person.given_names[0]
        if first in NICKNAMES and self.chance(self.noise.nickname):
            first = self.rng.choice(NICKNAMES[first])
        if self.chance(self.noise.given_typo):
            first = keyboard_typo(self.rng, first)
        given = " ".join((first, *person.given_names[1:])) if self.chance(0.4) else first
        family = person.family_name
        if person.former_family_name and self.chance(self.noise.old_family_name):
            family = person.former_family_name
        if self.chance(self.noise.family_typo):
            family = keyboard_typo(self.rng, family)
        if self.chance(0.3):
            family = family.upper()
        if self.chance(self.noise.name_order_swapped):
            return family, given
        return given, family

    def _dob(self, person: TruePerson, known: float) -> date | None:
        if not self.chance(known) or self.chance(self.noise.dob_missing):
            return None
        born = person.date_of_birth
        if born.day <= 12 and born.day != born.month and self.chance(self.noise.dob_day_month_swapped):
            born = date(born.year, born.day, born.month)
        if self.chance(self.noise.dob_typo):
            if self.chance(0.5):
                born = born + timedelta(days=self.rng.choice((-10, -2, -1, 1, 2, 10)))
            else:
                year = born.year + self.rng.choice((-10, -1, 1, 10))
                # a slip in the year leaves day and month as they were (29 February has no twin in most years)
                leap_day = (born.month, born.day) == (2, 29)
                born = born.replace(year=year, day=28 if leap_day else born.day)
        return born

    def _sex(self, person: TruePerson) -> str | None:
        if self.chance(self.noise.sex_missing):
            return None
        sex = person.sex
        if self.chance(self.noise.sex_wrong):
            sex = "M" if sex == "F" else "F"
        if self.chance(0.2):
            return "Female" if sex == "F" else "Male"
        return sex

    def _address(self, person: TruePerson, known: float) -> dict[str, Any]:
        if not self.chance(known):
            return {}
        address: Address = person.addresses[-1]
        if len(person.addresses) > 1 and self.chance(self.noise.old_address):
            address = self.rng.choice(person.addresses[:-1])
        lines = list(address.lines)
        if self.chance(0.3):
            street = lines[-2]
            for word, short in STREET_ABBREVIATIONS.items():
                street = street.replace(f" {word}", f" {short}")
            lines[-2] = street
        if self.chance(0.2):
            lines = lines[:-1]  # the town left off
        if self.chance(self.noise.postcode_missing):
            return {"address_lines": tuple(lines), "postcode": None}
        postcode = address.postcode
        if self.chance(self.noise.postcode_typo):
            inward = list(postcode[-3:])
            position = self.rng.randrange(3)
            inward[position] = (
                str(self.rng.randrange(10)) if position == 0 else self.rng.choice(POSTCODE_UNIT_LETTERS)
            )
            postcode = postcode[:-3] + "".join(inward)
        if self.chance(0.2):
            postcode = postcode.replace(" ", "")
        return {"address_lines": tuple(lines), "postcode": postcode}

    def update(self, person: TruePerson, old: SyntheticRecord) -> SyntheticRecord:
        """The agency corrects its record: current address, the right NHS number if it had one."""
        address = person.addresses[-1]
        changes: dict[str, Any] = {"address_lines": address.lines, "postcode": address.postcode}
        if old.nhs_number is not None:
            changes["nhs_number"] = person.nhs_number
        if old.date_of_birth is not None:
            changes["date_of_birth"] = person.date_of_birth
        return old.model_copy(update=changes)


def generate_population(
    seed: int,
    persons: int = 1000,
    noise: NoiseLevel | None = None,
    *,
    reference_date: date = DEFAULT_REFERENCE_DATE,
    agencies: Sequence[str] | None = None,
) -> SyntheticPopulation:
    """A population of ``persons`` true people and their records at the agencies (all vocabulary agencies
    unless ``agencies`` names some), with errors drawn at ``noise`` (moderate by default)."""
    noise = noise or NoiseLevel.moderate()
    people = build_people(seed, persons, reference_date)
    rng = random.Random(f"records:{seed}")  # noqa: S311 - synthetic data must be reproducible from its seed
    recorder = _Recorder(rng, noise)
    kinds = _agency_kinds(agencies)
    counts, weights = zip(*AGENCIES_PER_PERSON, strict=True)
    drafts: list[tuple[SyntheticRecord, TruePerson]] = []
    for person in people.persons:
        age = person.age_on(reference_date)
        eligible = [(code, kind) for code, kind in kinds if sees_age(code, kind, age)]
        if not eligible:
            continue
        how_many = min(len(eligible), rng.choices(counts, weights=weights)[0])
        for code, kind in rng.sample(eligible, how_many):
            drafts.append((recorder.record(person, code, kind), person))
            if recorder.chance(noise.duplicate_record):
                drafts.append((recorder.record(person, code, kind), person))
    rng.shuffle(drafts)
    numbers: dict[str, int] = {}
    records: list[SyntheticRecord] = []
    truth: dict[tuple[str, str], str] = {}
    owners: list[TruePerson] = []
    for draft, person in drafts:
        numbers[draft.agency] = numbers.get(draft.agency, 0) + 1
        local_id = f"{local_id_prefix(draft.agency)}{numbers[draft.agency]:07d}"
        record = draft.model_copy(update={"local_person_id": local_id})
        records.append(record)
        owners.append(person)
        truth[record.key] = person.person_id
    updates: list[SyntheticRecord] = []
    for record, person in zip(records, owners, strict=True):
        if recorder.chance(noise.later_update):
            updated = recorder.update(person, record)
            if updated != record:
                updates.append(updated)
    return SyntheticPopulation(
        seed=seed,
        noise=noise,
        persons=tuple(people.persons),
        records=tuple(records),
        updates=tuple(updates),
        truth=truth,
        twins=tuple(people.twins),
        common_name_groups=tuple(people.common_name_groups),
        households=tuple(people.households),
    )
