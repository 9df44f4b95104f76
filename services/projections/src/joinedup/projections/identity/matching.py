"""Pairwise matching: strong-identifier rules first, then a Fellegi-Sunter score over names, date of birth,
sex, address, phone and email.

``Matcher.compare(a, b)`` is symmetric and pure: the same two records always give the same comparison,
whatever else has been seen and in whatever order, which is what makes the partition order independent.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from joinedup.projections.identity.events import (
    REVIEW_DATE_OF_BIRTH_DIFFERS,
    REVIEW_GIVEN_NAMES_DIFFER,
    REVIEW_GREY_BAND,
    REVIEW_STRONG_IDENTIFIER_CONTRADICTED,
    REVIEW_UNCORROBORATED,
)
from joinedup.projections.identity.match_model import FIELD_LEVELS, MatchModel
from joinedup.projections.identity.normalise import Features
from joinedup.projections.identity.rules import (
    GIVEN_NAME_OWN,
    levels_contradict_identity,
    strong_identifier_rule,
    strong_identifiers_conflict,
)

LINK = "link"
REVIEW = "review"
NO_MATCH = "none"
CANNOT_LINK = "cannot-link"
CORROBORATE = "corroborate"
"""A link by score that needs a locator (address, phone, e-mail, near identifier) on the pair or on the
person's other records before it counts (see partition.py)."""
NAMES_SWAPPED = "names:swapped-order"

# Given-name levels too weak to link two records whose sex fields disagree (John / Joan).
_GIVEN_NAME_DOUBTFUL = frozenset({"typo", "phonetic", "similar", "middle-name", "initial"})
# Given-name levels that need an agreeing date of birth beside them (Carl / Karl in one household).
_GIVEN_NAME_WEAK = frozenset({"phonetic", "similar", "middle-name", "initial"})
_DATE_OF_BIRTH_INDIVIDUAL = frozenset({"exact", "transposed", "one-part"})
# Agreements that place a record at the person's door or in the person's hands, not just in the name.
_LOCATOR_LEVELS = frozenset(
    {
        ("address", "same-address"),
        ("address", "same-postcode"),
        ("address", "same-street"),
        ("phone", "agree"),
        ("email", "agree"),
        ("nhs_number", "near"),
        ("ni_number", "near"),
    }
)
_DATE_OF_BIRTH_WHOLE = frozenset({"exact", "transposed"})
_SIMILAR_JW = 0.85
# A score is rounded to 4 places and summed in another order than a bound on it: keep the bound well clear.
_SCORE_BOUND_MARGIN = 1e-3
# Two dates of birth this close, or two digit slips apart (1962-04-30 / 1972-04-28), are "near".
_NEAR_DAYS = 31
_ONE_PART_DAYS = 7


@dataclass(frozen=True, slots=True)
class Comparison:
    """The outcome for one pair: a verdict, the rule or score behind it, and the evidence by field."""

    verdict: str
    rule: str | None
    score: float
    levels: tuple[tuple[str, str], ...]
    agreed_fields: tuple[str, ...]
    disagreed_fields: tuple[str, ...]
    review_reason: str | None = None
    conflict: str | None = None


def _typo(a: str, b: str, jaro_winkler: float) -> bool:
    """One slip apart (in a name of four letters or more), or two slips in names of one length that are
    very similar. Not GERALD / GERALDINE or HARRIS / HARRISON, whose shared beginning Jaro-Winkler rewards."""
    distance = DamerauLevenshtein.distance(a, b)
    if distance <= 1 and min(len(a), len(b)) >= 4:
        return True
    return distance == 2 and len(a) == len(b) and bool(JaroWinkler.similarity(a, b) >= jaro_winkler)


def _typo_of_a_variant(name: str, variants: tuple[str, ...], jaro_winkler: float) -> bool:
    # A typo is at most one letter longer or shorter: the length test spares most string comparisons.
    return any(abs(len(v) - len(name)) <= 1 and _typo(name, v, jaro_winkler) for v in variants)


def nickname_slip(a: Features, b: Features, jaro_winkler: float) -> bool:
    """One first name is a slip away from a nickname or full form of the other (JMES for JIM's JAMES, AHDY
    for ANDREW's ANDY)."""
    if not a.given or not b.given:
        return False
    return _typo_of_a_variant(a.given[0], b.given_variants, jaro_winkler) or _typo_of_a_variant(
        b.given[0], a.given_variants, jaro_winkler
    )


def sex_neutral_slip(a: str, b: str) -> bool:
    """Two adjacent letters swapped (WILLAIM) or one letter doubled (DEECLAN): slips that do not turn a name
    into another sex's name, unlike JOHN / JOAN, PAUL / PAULA or LOUIS / LOUISE."""
    if len(a) == len(b):
        return a != b and DamerauLevenshtein.distance(a, b) == 1 and sorted(a) == sorted(b)
    short, long = (a, b) if len(a) < len(b) else (b, a)
    if len(long) - len(short) != 1:
        return False
    return any(long[i] == long[i - 1] and long[:i] + long[i + 1 :] == short for i in range(1, len(long)))


def given_name_level(a: Features, b: Features, jaro_winkler: float) -> str | None:
    if not a.given or not b.given:
        return None
    ga, gb = a.given[0], b.given[0]
    if ga == gb:
        return "exact"
    if not a.given_canonical.isdisjoint(b.given_canonical):
        return "nickname"
    if len(ga) == 1 or len(gb) == 1:
        return "initial" if ga[0] == gb[0] else "disagree"
    if _typo(ga, gb, jaro_winkler):
        return "typo"
    if a.given_phonetic == b.given_phonetic:
        return "phonetic"
    if DamerauLevenshtein.distance(ga, gb) <= 1 or JaroWinkler.similarity(ga, gb) >= _SIMILAR_JW:
        return "similar"
    if not set(a.given).isdisjoint(b.given):
        return "middle-name"
    return "disagree"


def family_name_level(a: Features, b: Features, jaro_winkler: float) -> str | None:
    if a.family is None or b.family is None:
        return None
    if a.family == b.family:
        return "exact"
    if not set(a.family_tokens).isdisjoint(b.family_tokens):
        return "partial"
    if _typo(a.family, b.family, jaro_winkler):
        return "typo"
    if a.family_phonetic == b.family_phonetic:
        return "phonetic"
    return "disagree"


def _two_digit_year_slip(a: int, b: int) -> bool:
    """Years whose last two digits are one keystroke apart (98 / 08, 85 / 58), within a century."""
    return (
        a != b and abs(a - b) < 100 and DamerauLevenshtein.distance(f"{a % 100:02d}", f"{b % 100:02d}") <= 1
    )


def date_of_birth_level(fa: Features, fb: Features) -> str | None:
    a, b = fa.dob, fb.dob
    if a is None or b is None or fa.dob_digits is None or fb.dob_digits is None:
        return None
    if a == b:
        return "exact"
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return "transposed"
    differing = (a.year != b.year) + (a.month != b.month) + (a.day != b.day)
    slips = DamerauLevenshtein.distance(fa.dob_digits, fb.dob_digits)
    days = abs((a - b).days)
    # One part wrong by one keystroke or a few days: 1980-03-14 / 1980-03-17, 1962 / 1972; not 1962 / 1990.
    # A year is often keyed as two digits (DD/MM/YY forms), so 1998 / 2008 and 1990 / 2000 are one slip too.
    if differing == 1 and (slips <= 1 or days <= _ONE_PART_DAYS or _two_digit_year_slip(a.year, b.year)):
        return "one-part"
    if days <= _NEAR_DAYS or slips <= 2:
        return "near"
    if a.year == b.year:
        return "year-only"
    return "disagree"


def address_level(a: Features, b: Features, line_similarity: float) -> str | None:
    comparable_postcodes = a.postcode is not None and b.postcode is not None
    if not comparable_postcodes and (a.address_line is None or b.address_line is None):
        return None
    same_postcode = comparable_postcodes and a.postcode == b.postcode
    same_line = (
        a.address_line is not None
        and b.address_line is not None
        and a.house_number == b.house_number
        and fuzz.token_sort_ratio(a.address_line, b.address_line) >= line_similarity
    )
    if same_postcode and same_line:
        return "same-address"
    if same_postcode:
        return "same-postcode"
    if same_line:
        return "same-street"
    if a.postcode_sector is not None and a.postcode_sector == b.postcode_sector:
        return "same-sector"
    return "disagree"


def _exact_level(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return "agree" if a == b else "disagree"


def _near_level(a: str | None, b: str | None) -> str | None:
    """For strong identifiers that are not both valid: one edit apart (a mistyping) or not."""
    if a is None or b is None:
        return None
    return "near" if DamerauLevenshtein.distance(a, b) <= 1 else "disagree"


def locator_agreements(a: Features, b: Features, line_similarity: float) -> tuple[str, ...]:
    """The fields on which two records place one person: the same address (or postcode, or first line),
    phone, e-mail, or a strong identifier one slip from the other's. Names and dates of birth are not here:
    they are what needs corroborating."""
    found: list[str] = []
    address = address_level(a, b, line_similarity)
    if address is not None and ("address", address) in _LOCATOR_LEVELS:
        found.append(f"address:{address}")
    if a.phone is not None and a.phone == b.phone:
        found.append("phone:agree")
    if a.email is not None and a.email == b.email:
        found.append("email:agree")
    for field, mine, theirs, valid in (
        ("nhs_number", a.nhs_any, b.nhs_any, a.nhs is not None and a.nhs == b.nhs),
        ("ni_number", a.ni_any, b.ni_any, a.ni is not None and a.ni == b.ni),
    ):
        if not valid and _near_level(mine, theirs) == "near":
            found.append(f"{field}:near")
    return tuple(found)


def _household(given: str | None, dob: str | None, sex: str | None) -> bool:
    """Another member of the household: two of first name, date of birth and sex disagree, or the first
    names disagree and no birthday is shared (``given`` None: whatever the first names are)."""
    return (given, dob, sex).count("disagree") >= 2 or (
        given == "disagree" and dob not in _DATE_OF_BIRTH_INDIVIDUAL
    )


class Matcher:
    """Compares two records under one matching model."""

    def __init__(self, model: MatchModel) -> None:
        self.model = model
        self._weights = model.weights()
        self._exact_names = model.exact_name_weights()
        self._link = model.thresholds.link
        self._review = model.thresholds.review
        self._uncorroborated = model.thresholds.uncorroborated
        self._jw = model.strings.jaro_winkler_typo
        self._line = model.strings.address_line_similarity
        # The most an address level can add to a score: a pair whose score cannot reach the review
        # threshold even with it is no match, and its addresses need no comparing (``compare_candidate``).
        self._most_address = max(0.0, *self._weights["address"].values())
        self._no_match_below = min(self._link, self._review) - _SCORE_BOUND_MARGIN

    def _name_levels(self, a: Features, b: Features) -> tuple[str | None, str | None, bool, Features]:
        """Given and family name levels, whether they only agree with one record's names swapped, and the
        (possibly swapped) features of ``b`` whose names were compared."""
        given = given_name_level(a, b, self._jw)
        family = family_name_level(a, b, self._jw)
        if given == "disagree" and family not in (None, "disagree") and nickname_slip(a, b, self._jw):
            # A nickname with a slip in it: weak, like "similar" (tried only when the surnames agree, as
            # nothing else would make the pair worth a second look).
            given = "similar"
        if given != "disagree" and family != "disagree":
            return given, family, False, b
        best_weight = self._weight("given_name", given) + self._weight("family_name", family)
        best = (given, family, False, b)
        for left, right in ((a.swapped, b), (a, b.swapped)):
            if left is None or right is None:
                continue
            # The surnames first: they disagree more often and cost less to compare.
            s_family = family_name_level(left, right, self._jw)
            if s_family in (None, "disagree"):
                continue
            s_given = given_name_level(left, right, self._jw)
            if s_given in (None, "disagree"):
                continue
            weight = (
                self._weight("given_name", s_given)
                + self._weight("family_name", s_family)
                + self.model.name_swap_weight
            )
            if weight > best_weight:
                best_weight, best = weight, (s_given, s_family, True, right)
        return best

    def _rule_name_levels(
        self, a: Features, b: Features, given: str | None, family: str | None
    ) -> tuple[str | None, str | None]:
        """For two records with one valid NHS or NI number (fs-v3): the name levels in the reading, as
        written or with one record's names swapped, where the first names agree (a name-order swap on top of
        a changed surname)."""
        if self._uncorroborated is None:
            return given, family
        for left, right in ((a.swapped, b), (a, b.swapped)):
            if left is None or right is None:
                continue
            s_given = given_name_level(left, right, self._jw)
            if s_given in GIVEN_NAME_OWN:
                return s_given, family_name_level(left, right, self._jw)
        return given, family

    def _name_weight(self, field: str, level: str, names: Features) -> float:
        """An exact agreement on a common name counts for less (term frequency)."""
        if level == "exact":
            value = names.given[0] if field == "given_name" and names.given else names.family
            common = self._exact_names.get(field, {})
            if value in common:
                return common[value]
        return self._weights[field][level]

    def _weight(self, field: str, level: str | None) -> float:
        return 0.0 if level is None else self._weights[field][level]

    def compare(self, a: Features, b: Features) -> Comparison:
        comparison = self._compare(a, b, screen=False)
        if comparison is None:  # pragma: no cover - only a screening comparison stops early
            raise RuntimeError("an unscreened comparison stopped early")
        return comparison

    def compare_candidate(self, a: Features, b: Features) -> Comparison | None:
        """``compare(a, b)`` for a pair that may link or go to review; None, sooner, when it can do neither
        (a cannot-link, a household, or a score that cannot reach the review threshold whatever the address
        says). A blocking candidate needs nothing else."""
        return self._compare(a, b, screen=True)

    def _compare(self, a: Features, b: Features, *, screen: bool) -> Comparison | None:
        if a.key > b.key:
            a, b = b, a
        conflict = strong_identifiers_conflict(a, b)
        if conflict is not None:
            if screen:
                return None
            conflicting = (f"{conflict}:different-valid",)
            return Comparison(CANNOT_LINK, None, 0.0, (), (), conflicting, None, conflict)
        rule = strong_identifier_rule(a, b)
        dob = date_of_birth_level(a, b)
        sex = _exact_level(a.sex, b.sex)
        if screen and rule is None and _household(None, dob, sex):
            return None
        given, family, swapped, names = self._name_levels(a, b)
        if screen and rule is None and _household(given, dob, sex):
            return None
        found: dict[str, str | None] = {
            "given_name": given,
            "family_name": family,
            "date_of_birth": dob,
            "sex": sex,
            "phone": _exact_level(a.phone, b.phone),
            "email": _exact_level(a.email, b.email),
            "nhs_number": None if a.nhs is not None and a.nhs == b.nhs else _near_level(a.nhs_any, b.nhs_any),
            "ni_number": None if a.ni is not None and a.ni == b.ni else _near_level(a.ni_any, b.ni_any),
        }
        if screen and rule is None and self._below_review(found, swapped, names):
            return None
        found["address"] = address_level(a, b, self._line)
        levels: list[tuple[str, str]] = []
        agreed: list[str] = []
        disagreed: list[str] = []
        score = self.model.name_swap_weight if swapped else 0.0
        for field in FIELD_LEVELS:
            level = found[field]
            if level is None:
                continue
            if field in ("given_name", "family_name"):
                weight = self._name_weight(field, level, names)
            else:
                weight = self._weights[field][level]
            score += weight
            levels.append((field, level))
            (agreed if weight > 0 else disagreed).append(f"{field}:{level}")
        if rule is not None:
            agreed.insert(0, f"{'nhs_number' if rule == 'nhs-number' else 'ni_number'}:exact")
        if swapped:
            agreed.append(NAMES_SWAPPED)
        score = round(score, 4)
        sex_neutral = given == "typo" and not swapped and sex_neutral_slip(a.given[0], b.given[0])
        located = any((field, level) in _LOCATOR_LEVELS for field, level in levels)
        if rule is not None and levels_contradict_identity(given, family, dob):
            # The same valid number: the names may agree only when one record's are read the other way round.
            given, family = self._rule_name_levels(a, b, given, family)
        verdict, linked_by, reason = self._verdict(
            rule,
            score,
            given,
            family,
            dob,
            sex,
            sex_neutral=sex_neutral,
            located=located,
        )
        return Comparison(
            verdict,
            linked_by,
            score,
            tuple(levels),
            tuple(agreed),
            tuple(disagreed),
            reason,
        )

    def _below_review(self, found: dict[str, str | None], swapped: bool, names: Features) -> bool:
        """For a pair with no strong-identifier rule and every level but the address's: whether the score
        stays below the review (and link) threshold even with the best address level, so that ``_verdict``
        must say NO_MATCH."""
        score = self.model.name_swap_weight if swapped else 0.0
        for field, level in found.items():
            if level is None:
                continue
            if field in ("given_name", "family_name"):
                score += self._name_weight(field, level, names)
            else:
                score += self._weights[field][level]
        return score + self._most_address < self._no_match_below

    def _verdict(
        self,
        rule: str | None,
        score: float,
        given: str | None,
        family: str | None,
        dob: str | None,
        sex: str | None,
        *,
        sex_neutral: bool,
        located: bool,
    ) -> tuple[str, str | None, str | None]:
        """(verdict, rule that linked, review reason). ``sex_neutral``: the given names differ by a slip that
        cannot make another sex's name (see ``sex_neutral_slip``)."""
        if rule is not None and not levels_contradict_identity(given, family, dob):
            return LINK, rule, None
        if rule is None and _household(given, dob, sex):
            # Another member of the household (a different first name, and no birthday in common): nothing
            # a reviewer needs to see, however much of the address and phone agree.
            return NO_MATCH, None, None
        # Twins share a surname, a birthday and an address; households share a surname, an address and a
        # phone. So different given names (or doubtful ones with different sexes, or weak ones without a
        # matching date of birth) or different dates of birth are never linked on the score alone, however
        # much else agrees: that evidence describes the household, not the person.
        names_differ = (
            given == "disagree"
            or (sex == "disagree" and given in _GIVEN_NAME_DOUBTFUL and not sex_neutral)
            or (given in _GIVEN_NAME_WEAK and dob not in _DATE_OF_BIRTH_INDIVIDUAL)
        )
        # Twins share a birthday, so a first name that is only the other record's middle name is theirs too
        # (fs-v3 on; fs-v1 and fs-v2 linked it).
        names_differ = names_differ or (self._uncorroborated is not None and given == "middle-name")
        # Names with a surname that disagrees, or names with a date of birth that only nearly agrees, fit
        # another person of that name in the city as well (people named alike are born in the same years):
        # such a pair links only when something places both records at one person — an address, a phone,
        # an e-mail, a strong identifier one slip away — on the pair or on the person's other records.
        uncorroborated = (
            self._uncorroborated is not None
            and score < self._uncorroborated
            and not located
            and (family == "disagree" or dob not in _DATE_OF_BIRTH_WHOLE)
        )
        if score >= self._link and not names_differ and dob != "disagree":
            return (CORROBORATE, None, REVIEW_UNCORROBORATED) if uncorroborated else (LINK, None, None)
        if rule is not None:
            return REVIEW, None, REVIEW_STRONG_IDENTIFIER_CONTRADICTED
        if score >= self._link:
            return REVIEW, None, REVIEW_GIVEN_NAMES_DIFFER if names_differ else REVIEW_DATE_OF_BIRTH_DIFFERS
        if score >= self._review:
            return REVIEW, None, REVIEW_GREY_BAND
        return NO_MATCH, None, None
