"""How a person search compares identifiers: normalised so formatting differences do not hide a match.

NHS numbers compare as digits only, NI numbers by their first 8 characters (the suffix letter is often
missing), names case-insensitively with whitespace collapsed (a given name matches the record's given names or
any one of them), postcodes upper case without spaces. Every criterion the search names must agree with one
and the same record.
"""

from __future__ import annotations

import re

from joinedup.contract.identifiers import ni_number_key, normalise_nhs_number
from joinedup.projections.person_view.read_model import PersonSearch, SourceRecord

_SPACES = re.compile(r"\s+")


def nhs_search_key(value: str | None) -> str | None:
    """An NHS number as digits only."""
    if not value:
        return None
    return re.sub(r"\D", "", normalise_nhs_number(value)) or None


def ni_search_key(value: str | None) -> str | None:
    """An NI number's first 8 characters, upper case, no spaces (the suffix letter is often missing)."""
    return ni_number_key(value) or None if value else None


def name_search_key(value: str | None) -> str | None:
    """A name, case-folded, inner whitespace collapsed."""
    if not value:
        return None
    return _SPACES.sub(" ", value.strip()).casefold() or None


def postcode_search_key(value: str | None) -> str | None:
    """A postcode, upper case, without spaces."""
    if not value:
        return None
    return _SPACES.sub("", value).upper() or None


def given_name_matches(wanted: str, given_names: str | None) -> bool:
    """A searched given name matches the whole of a record's given names or any one of them."""
    have = name_search_key(given_names)
    return have is not None and (wanted == have or wanted in have.split(" "))


def record_matches(record: SourceRecord, search: PersonSearch) -> bool:
    """Every identifier the search names agrees with the record (normalised); a search naming nothing, or
    only blank values, matches nothing."""
    checks: list[bool] = []
    for wanted, have, key_of in (
        (search.nhs_number, record.nhs_number, nhs_search_key),
        (search.ni_number, record.ni_number, ni_search_key),
        (search.family_name, record.family_name, name_search_key),
        (search.postcode, record.postcode, postcode_search_key),
    ):
        if wanted is not None:
            key = key_of(wanted)
            checks.append(key is not None and key == key_of(have))
    if search.given_name is not None:
        given = name_search_key(search.given_name)
        checks.append(given is not None and given_name_matches(given, record.given_names))
    if search.date_of_birth is not None:
        checks.append(search.date_of_birth == record.date_of_birth)
    return bool(checks) and all(checks)
