"""`joinedup publish` without a broker: the file is checked first; receipts are reported (fake publisher).

The real round trip is in test_agency_sdk_broker.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from uuid import UUID

import pytest
import typer
from typer.testing import CliRunner

from joinedup.contract import publish_cli
from joinedup.contract.cli import register
from joinedup.contract.envelope import envelope_for, event_id_for
from joinedup.contract.keys import IntakeRecord
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.sdk import PublishedSubmission, Receipt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "intake"
T = datetime(2026, 3, 2, 12, tzinfo=UTC)


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


class NoPublisher:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be sent")


def invoke(args: list[str], input: str | None = None) -> Any:
    return CliRunner().invoke(cli(), ["publish", *args], input=input, env={"COLUMNS": "200"})


def test_publish_is_a_command_of_the_joinedup_cli_next_to_schemas() -> None:
    result = CliRunner().invoke(cli(), ["--help"])
    assert result.exit_code == 0
    assert "publish" in result.output
    assert "schemas" in result.output


def test_an_invalid_file_is_reported_line_by_line_and_nothing_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_cli, "AgencyPublisher", NoPublisher)
    good = (EXAMPLES / "police.jsonl").read_text().splitlines()[0]
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            [
                good,
                good.replace('"urgency": "urgent"', '"urgency": "soon"'),
                "{oops",
                good.replace('"council-housing"', '"the-moon"'),
            ]
        )
    )
    result = invoke(["--agency", "police", str(path)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert [e.split(": ", 1)[1] for e in errors] == [
        "line 2: urgency: must be one of: routine, urgent, emergency",
        "line 3: not valid JSON (column 2: Expecting property name enclosed in double quotes)",
        "line 4: to_agency: is not a code of the agencies vocabulary",
    ]
    assert "3 invalid line(s): nothing was sent" in result.output


def test_a_dry_run_checks_the_file_and_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_cli, "AgencyPublisher", NoPublisher)
    result = invoke(["--agency", "police", "--dry-run", str(EXAMPLES / "police.jsonl")])
    assert result.exit_code == 0, result.output
    assert "3 submission(s) valid" in result.output


def test_a_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_cli, "AgencyPublisher", NoPublisher)
    text = (EXAMPLES / "council-housing.jsonl").read_text()
    result = invoke(["--agency", "council-housing", "--dry-run", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert "2 submission(s) valid" in result.output


def test_the_file_is_checked_as_the_given_agency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_cli, "AgencyPublisher", NoPublisher)
    unknown = invoke(["--agency", "the-moon", str(EXAMPLES / "police.jsonl")])
    assert unknown.exit_code == 2
    assert "not an agency" in unknown.output


class FakePublisher:
    """Acknowledges everything; answers each submission with ``answer``'s receipt (None: no receipt)."""

    answer: Callable[[IntakeRecord], Receipt | None] = staticmethod(lambda record: None)
    created: list[FakePublisher] = []

    def __init__(self, agency: str, bootstrap: str, topic_names: Mapping[str, str], **kwargs: Any) -> None:
        self.agency, self.bootstrap, self.topic_names, self.kwargs = agency, bootstrap, topic_names, kwargs
        self.intake_topic = topic_names[f"joinedup.intake.{agency}"]
        self.receipts_topic = topic_names[f"joinedup.receipts.{agency}"]
        self.published: list[PublishedSubmission] = []
        FakePublisher.created.append(self)

    def __enter__(self) -> FakePublisher:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: object, tb: TracebackType | None) -> None:
        return None

    def send(
        self, records: Sequence[IntakeRecord], on_sent: Callable[[int], None] | None = None, **kwargs: Any
    ) -> list[PublishedSubmission]:
        self.published = [PublishedSubmission(r, self.intake_topic, "k", 0, i) for i, r in enumerate(records)]
        if on_sent is not None:
            on_sent(len(records))
        return self.published

    def wait_for_receipts(self, keys: Iterable[UUID], timeout_s: float) -> dict[UUID, Receipt]:
        by_id = {p.event_id: p.record for p in self.published}
        found = {k: FakePublisher.answer(by_id[k]) for k in keys}
        return {k: r for k, r in found.items() if r is not None}


def accepted(record: IntakeRecord) -> SubmissionAccepted:
    return SubmissionAccepted(
        envelope=envelope_for(
            SubmissionAccepted,
            event_id=event_id_for("receipt", str(record.envelope.event_id)),
            occurred_at=T,
            recorded_at=T,
            source_agency=record.envelope.source_agency,
            correlation_id=record.envelope.correlation_id,
            causation_id=record.envelope.event_id,
        ),
        submission_type=record.avro_name,
        submission_ref="ref",
        event_ids=(event_id_for("event", str(record.envelope.event_id)),),
    )


def rejected(record: IntakeRecord) -> SubmissionRejected:
    return SubmissionRejected(
        envelope=accepted(record).envelope.model_copy(update={"event_type": "SubmissionRejected"}),
        reason_code="unknown-referral",
        field="referral_ref",
        message="no referral POL-2026-004512 from police has been received",
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> type[FakePublisher]:
    FakePublisher.created = []
    monkeypatch.setattr(publish_cli, "AgencyPublisher", FakePublisher)
    return FakePublisher


def test_each_receipt_is_printed_and_all_accepted_exits_zero(fake: type[FakePublisher]) -> None:
    fake.answer = staticmethod(accepted)
    result = invoke(["--agency", "police", "--topic-prefix", "t1.", str(EXAMPLES / "police.jsonl")])
    assert result.exit_code == 0, result.output
    (publisher,) = fake.created
    assert publisher.intake_topic == "t1.joinedup.intake.police"
    assert publisher.receipts_topic == "t1.joinedup.receipts.police"
    assert result.output.count("accepted line") == 3
    assert "line 1: ReferralSubmission POL-2026-004512 events: " in result.output
    assert "3 published, 3 accepted, 0 rejected, 0 without receipt" in result.output


def test_a_rejection_is_printed_with_its_reason_and_field_and_exits_non_zero(
    fake: type[FakePublisher],
) -> None:
    fake.answer = staticmethod(lambda r: rejected(r) if r.short_name() == "ReferralResponse" else accepted(r))
    result = invoke(["--agency", "council-housing", str(EXAMPLES / "council-housing.jsonl")])
    assert result.exit_code == 1, result.output
    assert (
        "rejected line 1: ReferralResponse POL-2026-004512: unknown-referral field referral_ref: "
        "no referral POL-2026-004512 from police has been received"
    ) in result.output
    assert "2 published, 1 accepted, 1 rejected, 0 without receipt" in result.output


def test_receipts_that_do_not_arrive_in_time_exit_with_two(fake: type[FakePublisher]) -> None:
    fake.answer = staticmethod(lambda r: None)
    result = invoke(["--agency", "police", "--timeout", "0.1", str(EXAMPLES / "police.jsonl")])
    assert result.exit_code == 2, result.output
    assert "3 without receipt" in result.output


def test_no_wait_publishes_and_does_not_watch_receipts(fake: type[FakePublisher]) -> None:
    result = invoke(["--agency", "police", "--no-wait", str(EXAMPLES / "police.jsonl")])
    assert result.exit_code == 0, result.output
    assert fake.created[0].kwargs == {"watch_receipts": False}
    assert "3 submission(s) published on joinedup.intake.police" in result.output


def test_the_bootstrap_and_prefix_come_from_the_environment(
    fake: type[FakePublisher], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.answer = staticmethod(accepted)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example:9093")
    monkeypatch.setenv("JOINEDUP_TOPIC_PREFIX", "staging.")
    result = CliRunner().invoke(cli(), ["publish", "--agency", "police", str(EXAMPLES / "police.jsonl")])
    assert result.exit_code == 0, result.output
    assert fake.created[0].bootstrap == "kafka.example:9093"
    assert fake.created[0].intake_topic == "staging.joinedup.intake.police"
