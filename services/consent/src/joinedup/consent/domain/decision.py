"""The sharing decision: may data about a person, held by one agency, go to another for a purpose, now?

A pure function of the consent state and the question. In order:

1. the owner disclosing to itself permits (basis ``own-record``): an agency can always read the records it
   holds itself; an objection restricts disclosure to others, and no glass needs breaking for one's own data;
2. a non-blank break-glass justification permits (basis ``break_glass``; the caller must audit it);
3. an objection or a withdrawal applying at ``at`` whose scope covers the disclosure denies (reason
   ``objection`` or ``consent-withdrawn``), unless the purpose is an override purpose (safeguarding, vital
   interests) that an agreement in force and covering the disclosure lists in ``override_purposes``: that
   agreement then permits;
4. consent given and applying at ``at``, covering the disclosure, permits (basis ``consent``);
5. an agreement in force at ``at`` covering the disclosure permits (basis ``agreement``);
6. otherwise deny, reason ``no-basis``.

Where several statements or agreements qualify at one step, an objection beats a withdrawal, and then the
lowest id wins, so the answer never depends on arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from joinedup.consent.domain.events import SharingAgreementRegistered
from joinedup.consent.domain.scope import Disclosure, RecordRef
from joinedup.consent.domain.state import ConsentState
from joinedup.consent.domain.timestamps import UtcDatetime

BasisKind = Literal["consent", "agreement", "statutory", "own-record", "break_glass", "none"]

DENIED_BY_OBJECTION = "objection"
DENIED_BY_WITHDRAWAL = "consent-withdrawn"
DENIED_WITHOUT_BASIS = "no-basis"
OBJECTION_OVERRIDDEN = "objection-overridden"
WITHDRAWAL_OVERRIDDEN = "withdrawal-overridden"
CONSENT_BASIS = "consent"
BREAK_GLASS_BASIS = "break-glass"


class Question(BaseModel):
    """May data about the person whose records are ``subject_records``, held by ``owner``, be disclosed to
    ``recipient`` for ``purpose`` (data ``category``) at ``at``?"""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject_records: tuple[RecordRef, ...]
    owner: str
    recipient: str
    purpose: str
    category: str
    at: UtcDatetime
    break_glass_justification: str | None = None

    @property
    def disclosure(self) -> Disclosure:
        return Disclosure(
            owner=self.owner, recipient=self.recipient, purpose=self.purpose, category=self.category
        )


class Decision(BaseModel):
    """Permit or deny, and why. ``basis_id`` names the consent statement or agreement relied on — or, for a
    deny by an objection or withdrawal, the statement that denied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    permit: bool
    basis_kind: BasisKind
    basis_id: str | None = None
    lawful_basis: str | None = None
    legal_reference: str | None = None
    reason: str | None = None
    overridden_statement_id: str | None = None


def _agreement_permit(
    agreement: SharingAgreementRegistered, reason: str | None = None, overridden: str | None = None
) -> Decision:
    return Decision(
        permit=True,
        basis_kind="agreement",
        basis_id=agreement.agreement_id,
        lawful_basis=agreement.lawful_basis,
        legal_reference=agreement.legal_reference,
        reason=reason,
        overridden_statement_id=overridden,
    )


class _Facts:
    """What applies at one instant to one set of records: computed once per (records, instant) in a batch."""

    __slots__ = ("agreements", "statements")

    def __init__(self, state: ConsentState, records: tuple[RecordRef, ...], at: datetime) -> None:
        self.statements = state.statements_applying(records, at)
        self.agreements = state.agreements_in_force(at)


def _decide(facts: _Facts, question: Question, override_purposes: frozenset[str]) -> Decision:
    disclosure = question.disclosure
    if disclosure.owner == disclosure.recipient:
        return Decision(permit=True, basis_kind="own-record")
    justification = question.break_glass_justification
    if justification is not None and justification.strip():
        return Decision(permit=True, basis_kind="break_glass", lawful_basis=BREAK_GLASS_BASIS)

    covering = [statement for statement in facts.statements if statement.scope.covers(disclosure)]
    agreements = [a for a in facts.agreements if a.covers(disclosure)]

    objections = [s for s in covering if s.kind == "objection"]
    withdrawals = [s for s in covering if s.kind == "withdrawn"]
    if objections or withdrawals:
        blocker = objections[0] if objections else withdrawals[0]
        if disclosure.purpose in override_purposes:
            for agreement in agreements:
                if disclosure.purpose in agreement.override_purposes:
                    reason = OBJECTION_OVERRIDDEN if objections else WITHDRAWAL_OVERRIDDEN
                    return _agreement_permit(agreement, reason, blocker.statement_id)
        return Decision(
            permit=False,
            basis_kind="none",
            basis_id=blocker.statement_id,
            reason=DENIED_BY_OBJECTION if objections else DENIED_BY_WITHDRAWAL,
        )

    consents = [s for s in covering if s.kind == "given"]
    if consents:
        return Decision(
            permit=True, basis_kind="consent", basis_id=consents[0].statement_id, lawful_basis=CONSENT_BASIS
        )
    if agreements:
        return _agreement_permit(agreements[0])
    return Decision(permit=False, basis_kind="none", reason=DENIED_WITHOUT_BASIS)


def decide(state: ConsentState, question: Question, *, override_purposes: frozenset[str]) -> Decision:
    """Answer one question. ``override_purposes``: the purposes the vocabulary flags as overrides."""
    facts = _Facts(state, question.subject_records, question.at)
    return _decide(facts, question, override_purposes)


def decide_many(
    state: ConsentState, questions: Iterable[Question], *, override_purposes: frozenset[str]
) -> list[Decision]:
    """Answer a batch of questions against one state, in the order asked. Questions about the same records
    at the same instant (a view's dozens of items) share one look-up of what applies."""
    facts: dict[tuple[tuple[RecordRef, ...], datetime], _Facts] = {}
    decisions: list[Decision] = []
    for question in questions:
        key = (question.subject_records, question.at)
        if key not in facts:
            facts[key] = _Facts(state, question.subject_records, question.at)
        decisions.append(_decide(facts[key], question, override_purposes))
    return decisions
