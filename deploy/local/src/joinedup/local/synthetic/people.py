"""The true population: who really exists, before any agency writes anything down.

Households share a surname, an address history and a landline; twins share all of that plus a date of
birth; several different people share the commonest full names. Every draw comes from one seeded
``random.Random`` and one seeded faker, in a fixed order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from difflib import SequenceMatcher

from faker import Faker

from joinedup.local.synthetic.names import (
    COMMON_NAMES,
    NICKNAMES,
    POSTCODE_DISTRICTS,
    POSTCODE_UNIT_LETTERS,
    STREET_SUFFIXES,
    TOWN,
)
from joinedup.local.synthetic.uk_numbers import new_nhs_number, new_ni_number, new_phone_number

TWIN_SHARE = 0.04
COMMON_NAME_SHARE = 0.03
HOUSEHOLD_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...]
    postcode: str


@dataclass(frozen=True, slots=True)
class TruePerson:
    person_id: str
    given_names: tuple[str, ...]
    family_name: str
    former_family_name: str | None
    date_of_birth: date
    sex: str
    nhs_number: str
    ni_number: str | None
    addresses: tuple[Address, ...]
    """Oldest first; the last is where the person lives now."""
    phone: str | None
    email: str | None

    def age_on(self, day: date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(slots=True)
class People:
    persons: list[TruePerson] = field(default_factory=list)
    twins: list[tuple[str, str]] = field(default_factory=list)
    common_name_groups: list[tuple[str, ...]] = field(default_factory=list)
    households: list[tuple[str, ...]] = field(default_factory=list)


class _Draw:
    """Everything random about a person, from one rng and one faker."""

    def __init__(self, rng: random.Random, fake: Faker, today: date) -> None:
        self.rng = rng
        self.fake = fake
        self.today = today
        self._nhs: set[str] = set()
        self._ni: set[str] = set()

    def nhs_number(self) -> str:
        while (number := new_nhs_number(self.rng)) in self._nhs:
            pass
        self._nhs.add(number)
        return number

    def ni_number(self, born: date) -> str | None:
        if (self.today - born).days < 16 * 365:
            return None
        while (number := new_ni_number(self.rng)) in self._ni:
            pass
        self._ni.add(number)
        return number

    def sex(self) -> str:
        return "F" if self.rng.random() < 0.5 else "M"

    def first_name(self, sex: str) -> str:
        return str(self.fake.first_name_female() if sex == "F" else self.fake.first_name_male())

    def given_names(self, sex: str, first: str | None = None) -> tuple[str, ...]:
        first = first or self.first_name(sex)
        if self.rng.random() < 0.3:
            middle = self.first_name(sex)
            if middle != first:
                return (first, middle)
        return (first,)

    def family_name(self) -> str:
        return str(self.fake.last_name())

    def date_of_birth(self, min_age: int = 0, max_age: int = 95) -> date:
        band = self.rng.random()
        low, high = (0, 17) if band < 0.2 else (18, 64) if band < 0.85 else (65, 95)
        low, high = max(low, min_age), min(high, max_age)
        if low > high:
            low, high = min_age, max_age
        age_days = self.rng.randrange(low * 365, high * 365 + 364)
        return self.today - timedelta(days=age_days)

    def address(self) -> Address:
        rng = self.rng
        street = f"{rng.randrange(1, 240)} {self.fake.last_name()} {rng.choice(STREET_SUFFIXES)}"
        postcode = (
            f"{rng.choice(POSTCODE_DISTRICTS)} {rng.randrange(10)}"
            f"{rng.choice(POSTCODE_UNIT_LETTERS)}{rng.choice(POSTCODE_UNIT_LETTERS)}"
        )
        if rng.random() < 0.15:
            return Address((f"Flat {rng.randrange(1, 40)}", street, TOWN), postcode)
        return Address((street, TOWN), postcode)

    def address_history(self) -> tuple[Address, ...]:
        moves = self.rng.choices((0, 1, 2), weights=(70, 25, 5))[0]
        return tuple(self.address() for _ in range(moves + 1))

    def phone(self) -> str | None:
        return new_phone_number(self.rng) if self.rng.random() < 0.75 else None

    def email(self, given: str, family: str, born: date) -> str | None:
        if (self.today - born).days < 13 * 365 or self.rng.random() < 0.4:
            return None
        domain = self.rng.choice(("example.com", "example.org", "example.net"))
        return f"{given}.{family}{self.rng.randrange(100)}@{domain}".lower().replace(" ", "").replace("'", "")

    def former_family_name(self, sex: str, born: date) -> str | None:
        if sex == "F" and (self.today - born).days > 22 * 365 and self.rng.random() < 0.1:
            return self.family_name()
        return None


def _distinct_first_names(a: str, b: str) -> bool:
    """Twins' names a reader would not take for a typo or nickname of each other."""
    nick = {a, *NICKNAMES.get(a, ())} & {b, *NICKNAMES.get(b, ())}
    return not nick and a[0] != b[0] and SequenceMatcher(None, a.upper(), b.upper()).ratio() < 0.6


def _person(
    draw: _Draw,
    index: int,
    *,
    sex: str | None = None,
    first: str | None = None,
    family: str | None = None,
    born: date | None = None,
    addresses: tuple[Address, ...] | None = None,
    phone: str | None = None,
    shared_phone: bool = False,
) -> TruePerson:
    sex = sex or draw.sex()
    given = draw.given_names(sex, first)
    family = family or draw.family_name()
    born = born or draw.date_of_birth()
    return TruePerson(
        person_id=f"P{index:06d}",
        given_names=given,
        family_name=family,
        former_family_name=draw.former_family_name(sex, born),
        date_of_birth=born,
        sex=sex,
        nhs_number=draw.nhs_number(),
        ni_number=draw.ni_number(born),
        addresses=addresses or draw.address_history(),
        phone=phone if shared_phone else draw.phone(),
        email=draw.email(given[0], family, born),
    )


def build_people(seed: int, count: int, today: date) -> People:
    rng = random.Random(seed)  # noqa: S311 - synthetic data must be reproducible from its seed
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    draw = _Draw(rng, fake, today)
    people = People()

    def add(person: TruePerson) -> TruePerson:
        people.persons.append(person)
        return person

    # A fixed share of twins, common-name groups and households, in a seeded order among single people.
    plan = (
        ["twins"] * max(1, round(count * TWIN_SHARE / 2))
        + ["common-name"] * max(1, round(count * COMMON_NAME_SHARE / 4))
        + ["household"] * round(count * HOUSEHOLD_SHARE / 3)
    )
    plan += ["single"] * max(0, count - len(plan) * 3)
    rng.shuffle(plan)
    for kind in plan:
        room = count - len(people.persons)
        next_index = len(people.persons)
        if room <= 0:
            break
        if kind == "twins" and room >= 2:
            sex_a, sex_b = draw.sex(), draw.sex()
            first_a = draw.first_name(sex_a)
            first_b = draw.first_name(sex_b)
            while not _distinct_first_names(first_a, first_b):
                first_b = draw.first_name(sex_b)
            family, born, home = draw.family_name(), draw.date_of_birth(), draw.address_history()
            phone = draw.phone()
            a = add(_person(draw, next_index, sex=sex_a, first=first_a, family=family, born=born,
                            addresses=home, phone=phone, shared_phone=True))  # fmt: skip
            b = add(_person(draw, next_index + 1, sex=sex_b, first=first_b, family=family, born=born,
                            addresses=home, phone=phone, shared_phone=True))  # fmt: skip
            people.twins.append((a.person_id, b.person_id))
            people.households.append((a.person_id, b.person_id))
        elif kind == "common-name" and room >= 3:
            first, family, sex = rng.choice(COMMON_NAMES)
            year_of = draw.date_of_birth(min_age=18, max_age=70)
            group = []
            for offset in range(min(room, rng.randrange(3, 6))):
                born = year_of + timedelta(days=rng.randrange(-3 * 365, 3 * 365))
                person = add(
                    _person(draw, next_index + offset, sex=sex, first=first, family=family, born=born)
                )
                group.append(person.person_id)
            people.common_name_groups.append(tuple(group))
        elif kind == "household" and room >= 2:
            family, home, phone = draw.family_name(), draw.address_history(), draw.phone()
            members: list[str] = []
            firsts: list[str] = []
            for offset in range(min(room, rng.randrange(2, 5))):
                sex = draw.sex()
                first = draw.first_name(sex)
                while not all(_distinct_first_names(first, other) for other in firsts):
                    first = draw.first_name(sex)
                firsts.append(first)
                person = add(_person(draw, next_index + offset, sex=sex, first=first, family=family,
                                     addresses=home, phone=phone, shared_phone=True))  # fmt: skip
                members.append(person.person_id)
            people.households.append(tuple(members))
        else:
            add(_person(draw, next_index))
    while len(people.persons) < count:
        add(_person(draw, len(people.persons)))
    return people
