"""Normalised comparison features of a source record, computed once when the record is seen."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import jellyfish

from joinedup.contract.identifiers import (
    nhs_number_is_valid,
    ni_number_is_valid,
    ni_number_key,
    normalise_nhs_number,
    normalise_ni_number,
)
from joinedup.projections.identity.nicknames import Nicknames
from joinedup.projections.identity.records import RecordKey, SourceRecord

_TITLES = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR", "REV", "SIR", "PROF", "LADY", "LORD"})
_NOT_NAME = re.compile(r"[^A-Z\s-]")
_SEPARATORS = re.compile(r"[\s-]+")
_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")
_STREET_WORDS = {
    "RD": "ROAD",
    "ST": "STREET",
    "AVE": "AVENUE",
    "AV": "AVENUE",
    "LN": "LANE",
    "DR": "DRIVE",
    "CL": "CLOSE",
    "CT": "COURT",
    "CRES": "CRESCENT",
    "PL": "PLACE",
    "GRN": "GREEN",
    "TCE": "TERRACE",
    "TER": "TERRACE",
    "SQ": "SQUARE",
    "GDNS": "GARDENS",
    "GRO": "GROVE",
    "PK": "PARK",
}
_UNIT_WORDS = ("FLAT", "APARTMENT", "APT", "UNIT", "ROOM")
_SEXES = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F"}


@dataclass(frozen=True, slots=True)
class Features:
    """What the matcher compares, normalised; invalid strong identifiers are kept apart from valid ones."""

    key: RecordKey
    nhs: str | None
    nhs_any: str | None
    ni: str | None
    ni_any: str | None
    given: tuple[str, ...]
    given_canonical: frozenset[str]
    given_phonetic: str | None
    family: str | None
    family_tokens: tuple[str, ...]
    family_phonetic: str | None
    family_soundex: str | None
    dob: date | None
    dob_digits: str | None
    """YYYYMMDD, for counting digit slips between two dates of birth."""
    sex: str | None
    postcode: str | None
    postcode_sector: str | None
    address_line: str | None
    house_number: str | None
    phone: str | None
    email: str | None
    given_variants: tuple[str, ...] = ()
    """Every nickname or full form of the first given name but itself, sorted: for a nickname with a slip."""
    swapped: Features | None = None
    """The same record with given and family names exchanged (for name-order swaps), when it has both."""


def name_tokens(value: str | None) -> tuple[str, ...]:
    """Upper case ASCII tokens with accents, apostrophes, punctuation and titles removed."""
    if not value:
        return ()
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    cleaned = _NOT_NAME.sub("", ascii_text.upper().replace("'", ""))
    return tuple(t for t in _SEPARATORS.split(cleaned) if t and t not in _TITLES)


def normalise_postcode(value: str | None) -> tuple[str | None, str | None]:
    """(postcode without spaces, sector "M6 5") for a well-formed UK postcode; (text, None) otherwise."""
    if not value:
        return None, None
    compact = re.sub(r"\s", "", value).upper()
    if not compact:
        return None, None
    if not _POSTCODE.match(compact):
        return compact, None
    return compact, f"{compact[:-3]} {compact[-3]}"


def normalise_address_line(lines: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(first address line with street words in full, house number); a flat line takes the next line too."""
    if not lines:
        return None, None
    wanted = list(lines[:2]) if lines[0].strip().upper().startswith(_UNIT_WORDS) else list(lines[:1])
    tokens: list[str] = []
    for line in wanted:
        for raw in re.split(r"[\s,.]+", line.upper()):
            if raw:
                tokens.append(_STREET_WORDS.get(raw, raw))
    if not tokens:
        return None, None
    number = next((t for t in tokens if any(c.isdigit() for c in t)), None)
    return " ".join(tokens), number


def normalise_phone(value: str | None) -> str | None:
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if digits.startswith("44"):
        digits = "0" + digits[2:]
    return digits if len(digits) >= 10 else None


def normalise_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return None
    return value.strip().lower()


def _strong_nhs(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    digits = normalise_nhs_number(value)
    if not digits:
        return None, None
    return (digits if nhs_number_is_valid(digits) else None), digits


def _strong_ni(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    text = normalise_ni_number(value)
    if not text:
        return None, None
    return (ni_number_key(text) if ni_number_is_valid(text) else None), text[:8]


@dataclass(frozen=True, slots=True)
class _Names:
    given: tuple[str, ...]
    given_canonical: frozenset[str]
    given_variants: tuple[str, ...]
    given_phonetic: str | None
    family: str | None
    family_tokens: tuple[str, ...]
    family_phonetic: str | None
    family_soundex: str | None


def _names(given: tuple[str, ...], family_tokens: tuple[str, ...], nicknames: Nicknames) -> _Names:
    family = "".join(family_tokens) or None
    return _Names(
        given=given,
        given_canonical=nicknames.canonical(given[0]) if given else frozenset(),
        given_variants=tuple(sorted(nicknames.variants(given[0]) - {given[0]})) if given else (),
        given_phonetic=jellyfish.metaphone(given[0]) if given else None,
        family=family,
        family_tokens=family_tokens,
        family_phonetic=jellyfish.metaphone(family) if family else None,
        family_soundex=jellyfish.soundex(family) if family else None,
    )


def _with_names(rest: dict[str, Any], names: _Names, swapped: Features | None = None) -> Features:
    """Features from the fields other than names (``rest``) and the names (built directly: a
    ``dataclasses.replace`` of a record's 24 fields costs more than all its normalising)."""
    return Features(
        **rest,
        given=names.given,
        given_canonical=names.given_canonical,
        given_variants=names.given_variants,
        given_phonetic=names.given_phonetic,
        family=names.family,
        family_tokens=names.family_tokens,
        family_phonetic=names.family_phonetic,
        family_soundex=names.family_soundex,
        swapped=swapped,
    )


def features_of(record: SourceRecord, nicknames: Nicknames) -> Features:
    """The record's comparison features (and its name-swapped twin when it has both names)."""
    given = name_tokens(record.given_names)
    family_tokens = name_tokens(record.family_name)
    nhs, nhs_any = _strong_nhs(record.nhs_number)
    ni, ni_any = _strong_ni(record.ni_number)
    postcode, sector = normalise_postcode(record.postcode)
    address_line, house_number = normalise_address_line(record.address_lines)
    dob = record.date_of_birth
    rest: dict[str, Any] = {
        "key": record.key,
        "nhs": nhs,
        "nhs_any": nhs_any,
        "ni": ni,
        "ni_any": ni_any,
        "dob": dob,
        "dob_digits": dob.strftime("%Y%m%d") if dob else None,
        "sex": _SEXES.get((record.sex or "").strip().upper()),
        "postcode": postcode,
        "postcode_sector": sector,
        "address_line": address_line,
        "house_number": house_number,
        "phone": normalise_phone(record.phone),
        "email": normalise_email(record.email),
    }
    names = _names(given, family_tokens, nicknames)
    if not given or not family_tokens:
        return _with_names(rest, names)
    # Swapped: the family name read as the given name, and the first given name as the family name.
    return _with_names(rest, names, _with_names(rest, _names(family_tokens, given[:1], nicknames)))
