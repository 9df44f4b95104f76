"""UK person identifiers: NHS number (mod-11) and National Insurance number checks.

These are part of the contract because every agency and every service must agree on what a valid identifier
is: the referral service rejects an invalid one, and identity resolution only trusts a valid one.
"""

from __future__ import annotations

import re

_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# Prefix letters that HMRC never issues: D, F, I, Q, U, V in either position; O second; and some pairs.
_NINO = re.compile(r"^(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]?$")


def normalise_nhs_number(value: str) -> str:
    """Drop spaces and hyphens (``943 476 5919`` -> ``9434765919``)."""
    return re.sub(r"[\s-]", "", value)


def nhs_number_is_valid(value: str) -> bool:
    """Ten digits, mod-11 check digit correct (a check value of 10 is invalid), not ten repeated digits."""
    digits = normalise_nhs_number(value)
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], _NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def normalise_ni_number(value: str) -> str:
    return re.sub(r"\s", "", value).upper()


def ni_number_is_valid(value: str) -> bool:
    """Two prefix letters HMRC issues, six digits, optional suffix A-D."""
    return bool(_NINO.match(normalise_ni_number(value)))


def ni_number_key(value: str) -> str:
    """The part to compare: the first 8 characters (the suffix is often missing)."""
    return normalise_ni_number(value)[:8]
