"""Building an agency's ``joinedup.intake.ConsentStatement`` submissions: for tests, demos and the broker test
(what an agency system would publish on its intake topic). All people here are invented."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from joinedup.contract.envelope import envelope_for, event_id_for
from joinedup.contract.keys import intake_key
from joinedup.contract.models.intake import ConsentStatement
from joinedup.contract.models.shared_records import ConsentScope, PersonRecord, RecordRef


def consent_submission(
    *,
    agency: str,
    person: str,
    ref: str,
    kind: str = "given",
    version: int = 1,
    occurred_at: datetime,
    valid_from: datetime,
    valid_until: datetime | None = None,
    owners: Sequence[str] = (),
    recipients: Sequence[str] = (),
    purposes: Sequence[str] = (),
    categories: Sequence[str] = (),
    source_agency: str | None = None,
    captured_by: str = "worker-17",
    evidence_ref: str | None = "form-CS1-scan",
) -> ConsentStatement:
    """A statement ``agency`` captured against its record ``person``; ``source_agency`` may be set to forge
    another sender."""
    sender = source_agency or agency
    return ConsentStatement(
        envelope=envelope_for(
            ConsentStatement,
            event_id=event_id_for(sender, "ConsentStatement", ref, version),
            occurred_at=occurred_at,
            recorded_at=occurred_at,
            source_agency=sender,
            correlation_id=f"{sender}/{ref}",
            subject=RecordRef(agency=agency, local_person_id=person),
        ),
        statement_ref=ref,
        version=version,
        subject=PersonRecord(local_person_id=person),
        kind=kind,
        scope=ConsentScope(
            owner_agencies=tuple(owners),
            recipient_agencies=tuple(recipients),
            purposes=tuple(purposes),
            data_categories=tuple(categories),
        ),
        valid_from=valid_from,
        valid_until=valid_until,
        captured_by=captured_by,
        evidence_ref=evidence_ref,
    )


def submission_key(submission: ConsentStatement) -> str:
    """The record key on the agency's intake topic."""
    return intake_key(submission, submission.envelope.source_agency)
