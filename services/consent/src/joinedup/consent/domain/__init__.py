"""The consent domain: statements, agreements, the state fold, the sharing decision and the trail.

Standard library and pydantic only.
"""

from joinedup.consent.domain.codes import KnownCodes
from joinedup.consent.domain.commands import (
    ConsentStatement,
    EndSharingAgreement,
    RegisterSharingAgreement,
    parse_command,
)
from joinedup.consent.domain.decision import BasisKind, Decision, Question, decide, decide_many
from joinedup.consent.domain.errors import CommandRejectedError
from joinedup.consent.domain.events import (
    EVENT_TYPES,
    AgreementEvent,
    ConsentEvent,
    ConsentGiven,
    ConsentWithdrawn,
    ObjectionLifted,
    ObjectionRecorded,
    SharingAgreementEnded,
    SharingAgreementRegistered,
    StatementEvent,
    StatementKind,
)
from joinedup.consent.domain.intake import accept_statement, end_agreement, register_agreement
from joinedup.consent.domain.scope import Disclosure, RecordRef, Scope
from joinedup.consent.domain.state import ConsentState
from joinedup.consent.domain.trail import ConsentTrail, PointInTimeView, TrailEntry, in_force_at, trail

__all__ = [
    "EVENT_TYPES",
    "AgreementEvent",
    "BasisKind",
    "CommandRejectedError",
    "ConsentEvent",
    "ConsentGiven",
    "ConsentState",
    "ConsentStatement",
    "ConsentTrail",
    "ConsentWithdrawn",
    "Decision",
    "Disclosure",
    "EndSharingAgreement",
    "KnownCodes",
    "ObjectionLifted",
    "ObjectionRecorded",
    "PointInTimeView",
    "Question",
    "RecordRef",
    "RegisterSharingAgreement",
    "Scope",
    "SharingAgreementEnded",
    "SharingAgreementRegistered",
    "StatementEvent",
    "StatementKind",
    "TrailEntry",
    "accept_statement",
    "decide",
    "decide_many",
    "end_agreement",
    "in_force_at",
    "parse_command",
    "register_agreement",
    "trail",
]
