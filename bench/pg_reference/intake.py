"""Intake in the reference design: a submission is validated in the application, then written with every row
it derives in one transaction.

Validation is the referral service's own (its input models and ``validate`` rules; ConsentStatement by the
contract's model), so both designs reject the same submissions. De-duplication is the intake log's primary
key on the deterministic event id (INSERT ... ON CONFLICT DO NOTHING): a re-sent submission writes nothing
and gets its original receipt. The referral lifecycle is an UPDATE guarded by the allowed statuses.

Identity resolution is reduced to a deterministic key (the NHS number when the submission carries a valid
one, else the agency's own record id), because B6 compares storage and transport, not matching: joinedup's
resolver links far more records (NI numbers, names, dates of birth, addresses) than this key does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from joinedup.contract.identifiers import nhs_number_is_valid
from joinedup.contract.models.intake import ConsentStatement
from joinedup.contract.models.shared_records import PersonRecord as ContractPersonRecord
from joinedup.referral.app.intake import parse_submission, submission_model
from joinedup.referral.domain.errors import InvalidValue, Rejection
from joinedup.referral.domain.person import PersonRecord
from joinedup.referral.domain.reference import ReferenceData
from joinedup.referral.domain.rules import validate
from joinedup.referral.domain.submissions import (
    AssessmentRecord,
    ContactRecord,
    ReferralResponse,
    ReferralSubmission,
    ReferralWithdrawal,
    Submission,
)

Connection = psycopg.Connection[Any]

RESPONSE_MOVES: dict[str, tuple[str, tuple[str, ...]]] = {
    "accept": ("accepted", ("received",)),
    "decline": ("declined", ("received",)),
    "close": ("closed", ("accepted",)),
}
"""A response's action -> (new status, statuses it may leave)."""
WITHDRAWABLE = ("received", "accepted")
ASSESSMENT_MAY_LEAVE: dict[str, tuple[str, ...]] = {
    "scheduled": (),
    "started": ("scheduled",),
    "completed": ("scheduled", "started"),
    "cancelled": ("scheduled", "started"),
}
"""An assessment's reported status -> the statuses it may move on from (forward only)."""


@dataclass(frozen=True)
class Incoming:
    """A submission as the application receives it: the agency (from its authenticated connection), the
    record's short name and its fields in JSON form (envelope included)."""

    agency: str
    name: str
    payload: Mapping[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.payload["envelope"]["event_id"])


@dataclass(frozen=True)
class Receipt:
    accepted: bool
    reason_code: str | None = None
    duplicate: bool = False


Parsed = Submission | ConsentStatement
Subject = PersonRecord | ContractPersonRecord


def person_key(agency: str, local_person_id: str, nhs_number: str | None) -> str:
    """The deterministic person key: the NHS number when valid, else the agency's own record."""
    if nhs_number is not None and nhs_number_is_valid(nhs_number):
        return f"nhs:{nhs_number}"
    return f"rec:{agency}:{local_person_id}"


def check(incoming: Incoming, reference: ReferenceData, now: datetime) -> Parsed:
    """The submission as a checked model, or the :class:`Rejection` the referral service would give."""
    model = submission_model(incoming.name)
    if model is None:
        try:
            return ConsentStatement.model_validate(incoming.payload)
        except ValidationError:
            raise InvalidValue("", "not a valid ConsentStatement") from None
    submission = parse_submission(model, incoming.payload)
    validate(submission, incoming.agency, reference, now)
    return submission


def _ref(parsed: Parsed) -> str:
    match parsed:
        case ReferralSubmission() | ReferralResponse() | ReferralWithdrawal():
            return parsed.referral_ref
        case AssessmentRecord():
            return parsed.assessment_ref
        case ContactRecord():
            return parsed.contact_ref
        case ConsentStatement():
            return parsed.statement_ref
    raise TypeError(type(parsed).__name__)


def process(connection: Connection, incoming: Incoming, reference: ReferenceData, now: datetime) -> Receipt:
    """Check one submission and write it, with every row it derives, inside the caller's transaction."""
    try:
        parsed: Parsed | None = check(incoming, reference, now)
        rejection: Rejection | None = None
    except Rejection as exc:
        parsed, rejection = None, exc
    ref = _ref(parsed) if parsed is not None else str(incoming.payload.get("referral_ref", ""))
    logged = connection.execute(
        "INSERT INTO submissions (event_id, agency, kind, ref, body, outcome, reason_code)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING event_id",
        (
            incoming.event_id,
            incoming.agency,
            incoming.name,
            ref,
            Jsonb(dict(incoming.payload)),
            "rejected" if rejection is not None else "accepted",
            rejection.reason_code if rejection is not None else None,
        ),
    )
    if logged.fetchone() is None:
        original = connection.execute(
            "SELECT outcome, reason_code FROM submissions WHERE event_id = %s", (incoming.event_id,)
        )
        row = original.fetchone()
        assert row is not None
        return Receipt(row[0] == "accepted", row[1], duplicate=True)
    if rejection is not None or parsed is None:
        return Receipt(False, rejection.reason_code if rejection is not None else "invalid-value")
    reason = _derive(connection, incoming.agency, parsed)
    if reason is not None:
        connection.execute(
            "UPDATE submissions SET outcome = 'rejected', reason_code = %s WHERE event_id = %s",
            (reason, incoming.event_id),
        )
        return Receipt(False, reason)
    return Receipt(True)


def _record(connection: Connection, agency: str, subject: Subject) -> str:
    """Upsert the agency's record of the subject; its person key (the first one it was given)."""
    cursor = connection.execute(
        "INSERT INTO records (agency, local_person_id, person_key, nhs_number, ni_number, family_name,"
        " date_of_birth, postcode) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (agency, local_person_id) DO UPDATE SET nhs_number = excluded.nhs_number,"
        " ni_number = excluded.ni_number, family_name = excluded.family_name,"
        " date_of_birth = excluded.date_of_birth, postcode = excluded.postcode RETURNING person_key",
        (
            agency,
            subject.local_person_id,
            person_key(agency, subject.local_person_id, subject.nhs_number),
            subject.nhs_number,
            subject.ni_number,
            subject.family_name,
            subject.date_of_birth,
            subject.postcode,
        ),
    )
    row = cursor.fetchone()
    assert row is not None
    return str(row[0])


def _derive(connection: Connection, agency: str, parsed: Parsed) -> str | None:
    """Write the rows a checked submission derives; the reason code if the lifecycle refuses it."""
    match parsed:
        case ReferralSubmission():
            return _referral(connection, agency, parsed)
        case ReferralResponse():
            return _response(connection, agency, parsed)
        case ReferralWithdrawal():
            return _withdrawal(connection, agency, parsed)
        case AssessmentRecord():
            return _assessment(connection, agency, parsed)
        case ContactRecord():
            return _contact(connection, agency, parsed)
        case ConsentStatement():
            return _consent(connection, agency, parsed)
    raise TypeError(type(parsed).__name__)


def _referral(connection: Connection, agency: str, submission: ReferralSubmission) -> str | None:
    person = _record(connection, agency, submission.subject)
    created = connection.execute(
        "INSERT INTO referrals (referring_agency, referral_ref, to_agency, person_key, status)"
        " VALUES (%s, %s, %s, %s, 'received') ON CONFLICT DO NOTHING RETURNING 1",
        (agency, submission.referral_ref, submission.to_agency, person),
    )
    if created.fetchone() is None:
        return "conflict"  # the same reference with other content (a true re-send has the same event id)
    connection.execute(
        "INSERT INTO items (person_key, agency, kind, ref, type, status, occurred_at, data_categories,"
        " counterpart_agency) VALUES (%s, %s, 'referral', %s, %s, 'received', %s, %s, %s)",
        (
            person,
            agency,
            submission.referral_ref,
            submission.requested_assessment_type or submission.need_codes[0],
            submission.referred_at,
            list(submission.data_categories),
            submission.to_agency,
        ),
    )
    return None


def _move_referral(
    connection: Connection,
    referring_agency: str,
    referral_ref: str,
    new_status: str,
    may_leave: tuple[str, ...],
    *,
    party_column: str,
    party: str,
) -> str | None:
    moved = connection.execute(
        "UPDATE referrals SET status = %s WHERE referring_agency = %s AND referral_ref = %s"
        " AND status = ANY(%s) AND (CASE WHEN %s THEN to_agency ELSE referring_agency END) = %s"
        " RETURNING 1",
        (new_status, referring_agency, referral_ref, list(may_leave), party_column == "to_agency", party),
    )
    if moved.fetchone() is None:
        found = connection.execute(
            "SELECT to_agency, status FROM referrals WHERE referring_agency = %s AND referral_ref = %s",
            (referring_agency, referral_ref),
        )
        row = found.fetchone()
        if row is None:
            return "unknown-referral"
        if party_column == "to_agency" and row[0] != party:
            return "not-receiving-agency"
        return "conflict" if row[1] == new_status else "illegal-transition"
    connection.execute(
        "UPDATE items SET status = %s WHERE agency = %s AND kind = 'referral' AND ref = %s",
        (new_status, referring_agency, referral_ref),
    )
    return None


def _response(connection: Connection, agency: str, response: ReferralResponse) -> str | None:
    new_status, may_leave = RESPONSE_MOVES[response.action]
    return _move_referral(
        connection,
        response.referring_agency,
        response.referral_ref,
        new_status,
        may_leave,
        party_column="to_agency",
        party=agency,
    )


def _withdrawal(connection: Connection, agency: str, withdrawal: ReferralWithdrawal) -> str | None:
    return _move_referral(
        connection,
        agency,
        withdrawal.referral_ref,
        "withdrawn",
        WITHDRAWABLE,
        party_column="referring_agency",
        party=agency,
    )


def _assessment(connection: Connection, agency: str, record: AssessmentRecord) -> str | None:
    person = _record(connection, agency, record.subject)
    written = connection.execute(
        "INSERT INTO items (person_key, agency, kind, ref, type, status, occurred_at, data_categories)"
        " VALUES (%s, %s, 'assessment', %s, %s, %s, %s, %s)"
        " ON CONFLICT (agency, kind, ref) DO UPDATE SET status = excluded.status,"
        " occurred_at = excluded.occurred_at WHERE items.status = ANY(%s) RETURNING item_id",
        (
            person,
            agency,
            record.assessment_ref,
            record.assessment_type,
            record.status,
            record.occurred_at,
            list(record.data_categories),
            list(ASSESSMENT_MAY_LEAVE[record.status]),
        ),
    )
    row = written.fetchone()
    if row is None:
        return "illegal-transition"
    if record.status == "completed":
        connection.execute(
            "INSERT INTO alerts (trigger_item, earlier_item, person_key)"
            " SELECT %(item)s, earlier.item_id, earlier.person_key FROM items earlier"
            " JOIN assessment_types earlier_type ON earlier_type.code = earlier.type"
            " JOIN assessment_types this_type ON this_type.code = %(type)s"
            " WHERE earlier.person_key = %(person)s AND earlier.kind = 'assessment'"
            " AND earlier.status = 'completed' AND earlier.item_id <> %(item)s"
            " AND earlier_type.equivalence_group = this_type.equivalence_group"
            " AND earlier.occurred_at <= %(at)s"
            " AND %(at)s - earlier.occurred_at <= earlier_type.repeat_window"
            " ON CONFLICT DO NOTHING",
            {"item": row[0], "type": record.assessment_type, "person": person, "at": record.occurred_at},
        )
    return None


def _contact(connection: Connection, agency: str, record: ContactRecord) -> str | None:
    person = _record(connection, agency, record.subject)
    written = connection.execute(
        "INSERT INTO items (person_key, agency, kind, ref, type, status, occurred_at, data_categories)"
        " VALUES (%s, %s, 'contact', %s, %s, 'recorded', %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (
            person,
            agency,
            record.contact_ref,
            record.contact_type,
            record.occurred_at,
            list(record.data_categories),
        ),
    )
    return None if written.fetchone() is not None else "conflict"


def _consent(connection: Connection, agency: str, statement: ConsentStatement) -> str | None:
    person = _record(connection, agency, statement.subject)
    scope = statement.scope
    connection.execute(
        "INSERT INTO consents (agency, statement_ref, version, person_key, kind, recipients, purposes,"
        " data_categories, valid_from, valid_until) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (agency, statement_ref) DO UPDATE SET version = excluded.version,"
        " kind = excluded.kind, recipients = excluded.recipients, purposes = excluded.purposes,"
        " data_categories = excluded.data_categories, valid_from = excluded.valid_from,"
        " valid_until = excluded.valid_until WHERE consents.version < excluded.version",
        (
            agency,
            statement.statement_ref,
            statement.version,
            person,
            statement.kind,
            list(scope.recipient_agencies),
            list(scope.purposes),
            list(scope.data_categories),
            statement.valid_from,
            statement.valid_until,
        ),
    )
    return None
