"""The caseworker's read in the reference design: one SELECT of the person's items with the basis for each
(the caller's own agency, a sharing agreement, or the person's latest consent statement, unless an objection
covers it), then the access-audit INSERT, in one transaction; the commit returns once the audit row's WAL is
flushed (synchronous_commit on), so the answer never outruns its audit, as in joinedup.

Plain on purpose: the sharing decision is a SQL predicate over agreements and the latest consent statement
(no statutory bases, no break-glass, no consent history); the audit rows are not hash-chained (a chain would
put every read behind one lock on the chain's head). A person with nothing the caller may see is a 404,
audited like the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

Connection = psycopg.Connection[Any]

VIEW_SQL = """
SELECT i.agency, i.kind, i.ref, i.type, i.status, i.occurred_at,
  CASE
    WHEN i.agency = %(caller)s THEN 'own-record'
    WHEN EXISTS (
      SELECT 1 FROM agreements a
      WHERE a.owner_agency = i.agency AND a.recipient_agency = %(caller)s AND a.purpose = %(purpose)s
        AND a.data_category = ANY(i.data_categories) AND a.valid_from <= %(at)s
        AND (a.valid_until IS NULL OR a.valid_until > %(at)s)
    ) THEN 'agreement'
    WHEN EXISTS (
      SELECT 1 FROM consents c
      WHERE c.person_key = i.person_key AND c.agency = i.agency AND c.kind = 'given'
        AND (cardinality(c.recipients) = 0 OR %(caller)s = ANY(c.recipients))
        AND (cardinality(c.purposes) = 0 OR %(purpose)s = ANY(c.purposes))
        AND (cardinality(c.data_categories) = 0 OR c.data_categories && i.data_categories)
        AND c.valid_from <= %(at)s AND (c.valid_until IS NULL OR c.valid_until > %(at)s)
    ) THEN 'consent'
  END AS basis,
  EXISTS (
    SELECT 1 FROM consents o
    WHERE o.person_key = i.person_key AND o.agency = i.agency AND o.kind = 'objection'
      AND (cardinality(o.recipients) = 0 OR %(caller)s = ANY(o.recipients))
      AND (cardinality(o.purposes) = 0 OR %(purpose)s = ANY(o.purposes))
      AND o.valid_from <= %(at)s AND (o.valid_until IS NULL OR o.valid_until > %(at)s)
  ) AS objected
FROM items i
WHERE i.person_key = %(person)s
ORDER BY i.occurred_at, i.item_id
"""

AUDIT_SQL = """
INSERT INTO access_audit (read_at, caller, caller_agency, role, purpose, person_key, found, disclosed,
  withheld, break_glass)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, false)
"""


@dataclass(frozen=True)
class Caller:
    user: str
    agency: str
    role: str
    purpose: str


@dataclass(frozen=True)
class Answer:
    status: int
    disclosed: int
    withheld: int


def read_person(connection: Connection, caller: Caller, person: str, at: datetime) -> Answer:
    """The person's view as ``caller`` may see it at ``at``, audited in the same transaction."""
    with connection.transaction():
        cursor = connection.execute(
            VIEW_SQL, {"caller": caller.agency, "purpose": caller.purpose, "at": at, "person": person}
        )
        rows = cursor.fetchall()
        disclosed = [
            [agency, kind, ref, basis]
            for agency, kind, ref, _type, _status, _at, basis, objected in rows
            if basis is not None and (basis == "own-record" or not objected)
        ]
        withheld = len(rows) - len(disclosed)
        found = bool(disclosed)
        connection.execute(
            AUDIT_SQL,
            (
                at,
                caller.user,
                caller.agency,
                caller.role,
                caller.purpose,
                person,
                found,
                Jsonb(disclosed),
                withheld if found else 0,
            ),
        )
    return Answer(200 if found else 404, len(disclosed), withheld if found else 0)
