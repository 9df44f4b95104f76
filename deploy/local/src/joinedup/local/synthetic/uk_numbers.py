"""Synthetic UK identifiers: NHS numbers valid by mod-11, NI numbers HMRC could issue, and phone numbers from
Ofcom's ranges reserved for drama (so no real person is ever rung)."""

from __future__ import annotations

import random

from joinedup.contract.identifiers import nhs_number_is_valid, ni_number_is_valid

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_NI_FIRST = "ABCEGHJKLMNPRSTWXYZ"
_NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"
# Ofcom drama numbers: (prefix, digits to add).
_DRAMA_RANGES = (
    ("07700900", 3),
    ("01614960", 3),
    ("01134960", 3),
    ("01144960", 3),
    ("01154960", 3),
    ("01164960", 3),
    ("01174960", 3),
    ("01184960", 3),
    ("01214960", 3),
    ("01314960", 3),
    ("01414960", 3),
    ("01514960", 3),
    ("01914980", 3),
    ("02079460", 3),
    ("02896496", 3),
    ("02920180", 3),
    ("01632960", 3),
)


def _check_digit(nine: str) -> int | None:
    total = sum(int(d) * w for d, w in zip(nine, _NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def new_nhs_number(rng: random.Random) -> str:
    """A ten-digit NHS number with a correct mod-11 check digit."""
    while True:
        nine = "".join(str(rng.randrange(10)) for _ in range(9))
        check = _check_digit(nine)
        if check is not None and nhs_number_is_valid(nine + str(check)):
            return nine + str(check)


def mistype_nhs_number(rng: random.Random, number: str) -> str:
    """One digit wrong or two adjacent digits swapped: mod-11 catches both, so the result is invalid."""
    while True:
        digits = list(number)
        position = rng.randrange(len(digits) - 1)
        if rng.random() < 0.5:
            digits[position], digits[position + 1] = digits[position + 1], digits[position]
        else:
            digits[position] = str((int(digits[position]) + rng.randrange(1, 10)) % 10)
        typed = "".join(digits)
        if typed != number and not nhs_number_is_valid(typed):
            return typed


def new_ni_number(rng: random.Random) -> str:
    while True:
        number = (
            rng.choice(_NI_FIRST)
            + rng.choice(_NI_SECOND)
            + "".join(str(rng.randrange(10)) for _ in range(6))
            + rng.choice("ABCD")
        )
        if ni_number_is_valid(number):
            return number


def mistype_ni_number(rng: random.Random, number: str) -> str:
    """One digit wrong. NI numbers have no check digit, so the result is usually another valid number."""
    position = rng.randrange(2, 8)
    digit = str((int(number[position]) + rng.randrange(1, 10)) % 10)
    return number[:position] + digit + number[position + 1 :]


def new_phone_number(rng: random.Random) -> str:
    prefix, extra = rng.choice(_DRAMA_RANGES)
    return prefix + "".join(str(rng.randrange(10)) for _ in range(extra))
