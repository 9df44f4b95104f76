"""A pairwise link between two source records, with the evidence that made it."""

from __future__ import annotations

from dataclasses import dataclass

from joinedup.projections.identity.records import RecordKey

TIER_ASSERTED = 0
TIER_RULE = 1
TIER_SCORE = 2
TIER_PERSON = 3
"""A scored pair corroborated by another record of the person (person-level evidence; partition.py)."""
TIER_PENDING = 4
"""A scored pair that needs corroboration: never joins two groups by itself."""
SCORED_TIERS = frozenset({TIER_SCORE, TIER_PERSON})


@dataclass(frozen=True, slots=True)
class Link:
    """``a`` and ``b`` are the same person by ``rule`` / ``score``; ``a < b``.

    ``via`` lists the blocking keys the two records share: the link only counts while one of those blocks
    is not oversized. Asserted links (a caseworker's "same person") have no blocks and always count.
    """

    a: RecordKey
    b: RecordKey
    tier: int
    score: float
    rule: str | None
    agreed_fields: tuple[str, ...]
    via: tuple[str, ...]
    asserted_by: str | None = None
    reason: str | None = None

    def order(self) -> tuple[int, float, RecordKey, RecordKey]:
        """The order links are tried in: asserted (the latest first: an asserted link's score is the time of
        the assertion), then rules, then higher scores, then corroborated scores; ties by record keys."""
        return (self.tier, -self.score, self.a, self.b)

    def other(self, key: RecordKey) -> RecordKey:
        return self.b if key == self.a else self.a

    @property
    def pair(self) -> tuple[RecordKey, RecordKey]:
        return (self.a, self.b)

    @property
    def surname_agrees(self) -> bool:
        """Whether the comparison behind the link agreed on the family name (a ``family_name:`` field)."""
        return any(field.startswith("family_name:") for field in self.agreed_fields)
