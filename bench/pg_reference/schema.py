"""The reference design's tables. Deliberately plain: one table per thing, the natural keys as constraints,
an index per lookup, nothing clever.

- ``submissions``: the intake log, the system of record here (as the Kafka intake topics are joinedup's):
  every submission once, keyed by its deterministic event id, with its body as JSONB and its receipt
  (accepted, or rejected with a reason code). A re-sent submission hits the primary key (ON CONFLICT DO
  NOTHING) and changes nothing.
- ``records``: each agency's record of a person, with the person key it resolved to.
- ``referrals``: the referral lifecycle (status moved by UPDATE ... WHERE status IN (...)).
- ``items``: the person view: every contact, assessment and referral, keyed by person.
- ``alerts``: repeat assessments (an equivalent completed assessment inside the earlier one's window).
- ``assessment_types``: the vocabulary's equivalence groups and repeat windows.
- ``consents``: the latest version of each consent statement; ``agreements``: information sharing agreements,
  one row per (owner, recipient, purpose, data category).
- ``access_audit``: one row per read, written in the read's transaction.
"""

from __future__ import annotations

from typing import LiteralString

import psycopg

from joinedup.contract.vocabularies import vocabularies

DDL: tuple[LiteralString, ...] = (
    """CREATE TABLE submissions (
        event_id uuid PRIMARY KEY,
        agency text NOT NULL,
        kind text NOT NULL,
        ref text NOT NULL,
        body jsonb NOT NULL,
        outcome text NOT NULL,
        reason_code text
    )""",
    """CREATE TABLE records (
        agency text NOT NULL,
        local_person_id text NOT NULL,
        person_key text NOT NULL,
        nhs_number text,
        ni_number text,
        family_name text,
        date_of_birth date,
        postcode text,
        PRIMARY KEY (agency, local_person_id)
    )""",
    "CREATE INDEX records_person ON records (person_key)",
    """CREATE TABLE referrals (
        referring_agency text NOT NULL,
        referral_ref text NOT NULL,
        to_agency text NOT NULL,
        person_key text NOT NULL,
        status text NOT NULL,
        PRIMARY KEY (referring_agency, referral_ref)
    )""",
    """CREATE TABLE items (
        item_id bigserial PRIMARY KEY,
        person_key text NOT NULL,
        agency text NOT NULL,
        kind text NOT NULL,
        ref text NOT NULL,
        type text NOT NULL,
        status text NOT NULL,
        occurred_at timestamptz NOT NULL,
        data_categories text[] NOT NULL,
        counterpart_agency text,
        UNIQUE (agency, kind, ref)
    )""",
    "CREATE INDEX items_person ON items (person_key, occurred_at)",
    """CREATE TABLE assessment_types (
        code text PRIMARY KEY,
        equivalence_group text NOT NULL,
        repeat_window interval NOT NULL
    )""",
    """CREATE TABLE alerts (
        trigger_item bigint NOT NULL REFERENCES items,
        earlier_item bigint NOT NULL REFERENCES items,
        person_key text NOT NULL,
        PRIMARY KEY (trigger_item, earlier_item)
    )""",
    """CREATE TABLE consents (
        agency text NOT NULL,
        statement_ref text NOT NULL,
        version int NOT NULL,
        person_key text NOT NULL,
        kind text NOT NULL,
        recipients text[] NOT NULL,
        purposes text[] NOT NULL,
        data_categories text[] NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_until timestamptz,
        PRIMARY KEY (agency, statement_ref)
    )""",
    "CREATE INDEX consents_person ON consents (person_key)",
    """CREATE TABLE agreements (
        owner_agency text NOT NULL,
        recipient_agency text NOT NULL,
        purpose text NOT NULL,
        data_category text NOT NULL,
        agreement_id text NOT NULL,
        valid_from timestamptz NOT NULL,
        valid_until timestamptz,
        PRIMARY KEY (owner_agency, recipient_agency, purpose, data_category, agreement_id)
    )""",
    """CREATE TABLE access_audit (
        audit_id bigserial PRIMARY KEY,
        read_at timestamptz NOT NULL,
        caller text NOT NULL,
        caller_agency text NOT NULL,
        role text NOT NULL,
        purpose text NOT NULL,
        person_key text NOT NULL,
        found boolean NOT NULL,
        disclosed jsonb NOT NULL,
        withheld int NOT NULL,
        break_glass boolean NOT NULL
    )""",
)


def create_schema(connection: psycopg.Connection) -> None:
    """Every table, and the assessment types from the project's vocabulary, in one transaction."""
    with connection.transaction():
        for statement in DDL:
            connection.execute(statement)
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO assessment_types VALUES (%s, %s, make_interval(days => %s))",
                [
                    (kind.code, kind.group, kind.repeat_window_days)
                    for kind in vocabularies().assessment_types.codes
                ],
            )
