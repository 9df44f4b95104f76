"""Blocking keys: which records are worth comparing. Computed from one record alone, so they do not depend
on what else has been seen; two records are candidates when they share a key whose block is not oversized."""

from __future__ import annotations

from joinedup.projections.identity.normalise import Features


def blocking_keys(f: Features) -> tuple[str, ...]:
    """The record's blocking keys, sorted and without duplicates."""
    keys: set[str] = set()
    if f.nhs:
        keys.add(f"nhs:{f.nhs}")
    if f.ni:
        keys.add(f"ni:{f.ni}")
    year = str(f.dob.year) if f.dob else "-"
    if f.dob:
        # Day and month in either order: a transposed date of birth lands in the same block.
        low, high = sorted((f.dob.day, f.dob.month))
        keys.add(f"dob:{f.dob.year:04d}-{low:02d}-{high:02d}")
        # Day and month with the surname's sound or the first name: catches a mistyped birth year.
        if f.family_soundex:
            keys.add(f"dmf:{low:02d}-{high:02d}:{f.family_soundex}")
        if f.given:
            keys.add(f"dmg:{low:02d}-{high:02d}:{f.given[0]}")
    name_tokens = {*f.given[:1], *f.family_tokens, *f.given_canonical}
    for token in name_tokens:
        keys.add(f"nt:{token}:{year}")
    if f.family and f.given:
        # The full name without the year: finds the records whose date of birth is missing or wrong.
        for given in {f.given[0], *f.given_canonical}:
            keys.add(f"fn:{given}:{f.family}")
        # The first given name and the surname in either order: finds a name-order swap without a date.
        keys.add("fo:" + ":".join(sorted((f.given[0], f.family))))
    if f.family_soundex:
        keys.add(f"ps:{f.family_soundex}:{year}")
        if f.given:
            # The surname's sound and the first initial, whatever the year: a mistyped name and no date.
            keys.add(f"pf:{f.family_soundex}:{f.given[0][0]}")
    if f.swapped is not None and f.swapped.family_soundex and f.swapped.given and f.dob is None:
        # The same for the names read the other way round, when there is no date of birth to block on
        # (a name-order swap with a slip in the first name).
        keys.add(f"pf:{f.swapped.family_soundex}:{f.swapped.given[0][0]}")
    if f.postcode_sector:
        for initial in {t[0] for t in (*f.family_tokens[:1], *f.given[:1])}:
            keys.add(f"pc:{f.postcode_sector}:{initial}")
    if f.phone:
        keys.add(f"ph:{f.phone}")
    if f.email:
        keys.add(f"em:{f.email}")
    return tuple(sorted(keys))
