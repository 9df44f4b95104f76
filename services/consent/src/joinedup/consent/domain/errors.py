"""Why a command is rejected: one named error per rule, each with a stable reason code.

Messages name fields and codes only, never personal data: they end up on receipts topics and in logs.
"""

from __future__ import annotations

from typing import ClassVar


class CommandRejectedError(Exception):
    """A command or submission broke a rule. ``reason_code`` is stable; ``field`` is the offending field."""

    reason_code: ClassVar[str] = "rejected"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{self.reason_code}: {field}: {message}")
        self.field = field
        self.message = message


class MissingFieldError(CommandRejectedError):
    reason_code = "missing-field"


class InvalidFieldError(CommandRejectedError):
    reason_code = "invalid-field"


class ForgedAgencyError(CommandRejectedError):
    reason_code = "forged-agency"


class UnknownAgencyError(CommandRejectedError):
    reason_code = "unknown-agency"


class UnknownPurposeError(CommandRejectedError):
    reason_code = "unknown-purpose"


class UnknownDataCategoryError(CommandRejectedError):
    reason_code = "unknown-data-category"


class UnknownStatementKindError(CommandRejectedError):
    reason_code = "unknown-kind"


class UnknownLawfulBasisError(CommandRejectedError):
    reason_code = "unknown-lawful-basis"


class LawfulBasisNotAllowedError(CommandRejectedError):
    reason_code = "lawful-basis-not-allowed"


class OverridePurposeNotAllowedError(CommandRejectedError):
    reason_code = "override-not-allowed"


class InvalidPeriodError(CommandRejectedError):
    reason_code = "invalid-period"


class OccurredInFutureError(CommandRejectedError):
    reason_code = "occurred-in-future"


class InvalidVersionError(CommandRejectedError):
    reason_code = "invalid-version"


class VersionConflictError(CommandRejectedError):
    reason_code = "version-conflict"


class UnknownAgreementError(CommandRejectedError):
    reason_code = "unknown-agreement"
