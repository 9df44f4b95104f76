"""`joinedup simulate` on a real broker, and the demo summary's figures read back from topics filled here.

No joinedup service runs in these tests: receipts, canonical, identity and alert topics are filled by hand
where a figure needs them. The pure counting functions are also checked without a broker.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from joinedup.contract import kafka as kafka_clients
from joinedup.contract.examples import example
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.models.base import AvroRecord
from joinedup.contract.models.identity import (
    PersonCreated,
    PersonsMerged,
    PersonSplit,
    RecordLinked,
    RecordMove,
)
from joinedup.contract.models.receipts import SubmissionAccepted, SubmissionRejected
from joinedup.contract.models.referral import ContactRecorded, ReferralReceived
from joinedup.contract.models.shared_records import RecordRef
from joinedup.contract.sdk import submission_event_id
from joinedup.contract.serde import default_codec
from joinedup.contract.topics import ALERTS, IDENTITY_EVENTS, REFERRAL_EVENTS, receipts_topic
from joinedup.local.simulate import publish_city, register_agreements, tally_receipts, unchecked_record
from joinedup.local.simulate_commands import simulate
from joinedup.local.summary import (
    DemoSummary,
    IdentityFigures,
    ReceiptFigures,
    compare_with_truth,
    contacts_per_person,
    count_repeat_alerts,
    gather_summary,
    persons_created_minus_merged,
    resolve_persons,
    shortfalls,
)
from joinedup.local.synthetic.city import build_city, read_truth_csv

STAMP = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- records


def _ref(agency: str, local: str) -> RecordRef:
    return RecordRef(agency=agency, local_person_id=local)


def created(person: str, agency: str, local: str) -> PersonCreated:
    return example(PersonCreated).model_copy(update={"person_id": person, "record": _ref(agency, local)})


def linked(person: str, agency: str, local: str) -> RecordLinked:
    return example(RecordLinked).model_copy(update={"person_id": person, "record": _ref(agency, local)})


def merged(person: str, *absorbed: str) -> PersonsMerged:
    return example(PersonsMerged).model_copy(update={"person_id": person, "absorbed_person_ids": absorbed})


def contact(agency: str, local: str) -> ContactRecorded:
    record = example(ContactRecorded)
    return record.model_copy(
        update={"agency": agency, "subject": record.subject.model_copy(update={"local_person_id": local})}
    )


def alert(alert_id: str, group: str) -> RepeatAssessmentDetected:
    return example(RepeatAssessmentDetected).model_copy(
        update={"alert_id": alert_id, "equivalence_group": group}
    )


def rejected(reason: str) -> SubmissionRejected:
    return example(SubmissionRejected).model_copy(update={"reason_code": reason})


IDENTITY = [
    created("P1", "police", "PNC1"),
    created("P2", "nhs-acute-trust", "RAE1"),
    created("P3", "council-housing", "HOU1"),
    linked("P1", "probation", "NDL1"),
    merged("P1", "P2"),
]
TRUTH = {
    ("police", "PNC1"): "T1",
    ("nhs-acute-trust", "RAE1"): "T1",
    ("probation", "NDL1"): "T1",
    ("council-housing", "HOU1"): "T2",
    ("jobcentre", "JCP1"): "T2",
}


# ---------------------------------------------------------------------------------------------- pure


def test_identity_events_fold_into_persons_through_merges_and_splits() -> None:
    person_of = resolve_persons(IDENTITY)
    assert person_of == {
        ("police", "PNC1"): "P1",
        ("nhs-acute-trust", "RAE1"): "P1",
        ("probation", "NDL1"): "P1",
        ("council-housing", "HOU1"): "P3",
    }
    assert persons_created_minus_merged(IDENTITY) == 2
    split = example(PersonSplit).model_copy(
        update={
            "person_id": "P1",
            "moves": (RecordMove(record=_ref("probation", "NDL1"), to_person_id="P4"),),
        }
    )
    assert resolve_persons([*IDENTITY, split])[("probation", "NDL1")] == "P4"


def test_the_resolved_persons_are_compared_with_the_truth() -> None:
    figures = compare_with_truth(resolve_persons(IDENTITY), TRUTH)
    assert (figures.records, figures.persons, figures.true_persons) == (4, 2, 2)
    assert (figures.exactly_right, figures.false_merges, figures.false_splits) == (2, 0, 0)
    wrong = {**resolve_persons(IDENTITY), ("council-housing", "HOU1"): "P1"}
    worse = compare_with_truth(wrong, TRUTH)
    assert (worse.exactly_right, worse.false_merges) == (0, 1)
    assert compare_with_truth(wrong, None).true_persons is None


def test_contacts_are_counted_per_resolved_person_and_records_not_yet_placed_count_alone() -> None:
    events: list[AvroRecord] = [
        contact("police", "PNC1"),
        contact("nhs-acute-trust", "RAE1"),
        contact("nhs-acute-trust", "RAE1"),
        contact("jobcentre", "JCP9"),
        example(ReferralReceived),
    ]
    figures = contacts_per_person(events, resolve_persons(IDENTITY))
    assert (figures.contacts, figures.persons) == (4, 2)
    assert (figures.busiest, figures.busiest_contacts, figures.busiest_agencies) == ("P1", 3, 2)
    assert figures.mean == 2.0
    assert contacts_per_person([], {}).busiest is None


def test_a_re_emitted_alert_counts_once() -> None:
    alerts = [alert("a1", "housing-needs"), alert("a1", "housing-needs"), alert("a2", "mental-health")]
    assert count_repeat_alerts(alerts) == Counter({"housing-needs": 1, "mental-health": 1})


def test_receipts_tally_by_reason_and_say_how_many_are_missing() -> None:
    tally = tally_receipts(
        [example(SubmissionAccepted), rejected("date-in-future"), rejected("date-in-future")], 5
    )
    assert (tally.accepted, tally.rejected, tally.missing) == (1, Counter({"date-in-future": 2}), 2)


def test_shortfalls_say_what_the_pipeline_has_not_reached_yet() -> None:
    city = build_city(5, 40)
    expected = city.expected()
    summary = DemoSummary()
    assert len(shortfalls(summary, expected)) == 5
    summary.receipts = ReceiptFigures(
        expected.referral_accepted + expected.consent_statements, expected.rejected
    )
    summary.canonical = Counter({"ContactRecorded": expected.referral_accepted})
    summary.identity = IdentityFigures(expected.records, 10)
    summary.repeat_alerts = Counter({"housing-needs": 1})
    assert shortfalls(summary, expected) == []
    summary.receipts = ReceiptFigures(
        summary.receipts.accepted, Counter({**expected.rejected, "conflict": 1})
    )
    assert [s.split(":")[0] for s in shortfalls(summary, expected)] == ["rejections"]


def test_a_planted_invalid_submission_is_enveloped_like_the_sdk_does_and_still_encodes() -> None:
    city = build_city(5, 40)
    planted = next(s for s in city.submissions if s.expected_rejection == "unknown-assessment-type")
    record = unchecked_record(planted, lambda: STAMP)
    assert record.envelope.event_id == submission_event_id(record, planted.agency)
    assert (record.envelope.source_agency, record.envelope.recorded_at) == (planted.agency, STAMP)
    codec = default_codec()
    assert codec.decode(codec.encode(record)) == record


def test_agreements_are_posted_to_the_consent_api_and_refusals_reported() -> None:
    city = build_city(5, 40)
    bodies: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        assert request.headers["Authorization"] == "Bearer dpo-token"
        if body["agreement_id"] == "isa-city-mash":
            return httpx.Response(403, json={"detail": {"reason_code": "not-your-agency", "message": "m"}})
        return httpx.Response(
            201, json={"agreement_id": body["agreement_id"], "version": 1, "event_ids": ["e"]}
        )

    transport = httpx.MockTransport(answer)
    with httpx.Client(
        base_url="http://consent", transport=transport, headers={"Authorization": "Bearer dpo-token"}
    ) as client:
        outcomes = register_agreements(city, "http://consent", "dpo-token", client=client)
    assert [b["agreement_id"] for b in bodies] == [a.agreement_id for a in city.agreements]
    statuses = {o.agreement_id: o.status for o in outcomes}
    assert statuses["isa-city-mash"] == "refused (403: not-your-agency)"
    assert statuses["isa-city-mh-asc"] == "registered"


# ---------------------------------------------------------------------------------------------- broker


@pytest.mark.broker
def test_simulate_publishes_the_city_on_the_prefixed_intake_topics_and_the_counts_read_back_match(
    kafka_bootstrap: str, unique_prefix: str, catalog_topics: dict[str, str]
) -> None:
    city = build_city(5, 40)
    result = publish_city(city, kafka_bootstrap, topic_names=catalog_topics, wait=False, clock=lambda: STAMP)
    assert result.counts() == city.counts()
    assert {p.topic for sent in result.published.values() for p in sent} == {
        f"{unique_prefix}joinedup.intake.{agency}" for agency in city.agencies
    }
    summary = gather_summary(kafka_bootstrap, city.agencies, topic_names=catalog_topics, truth=city.truth)
    assert summary.submissions == Counter(s.kind for s in city.submissions)
    assert summary.receipts.total == 0  # no referral worker runs here
    assert sum(summary.canonical.values()) == summary.persons_net == summary.contacts.contacts == 0
    assert summary.problems == []


@pytest.mark.broker
def test_the_simulate_command_publishes_and_writes_the_truth_file(
    kafka_bootstrap: str, unique_prefix: str, catalog_topics: dict[str, str], tmp_path: Path
) -> None:
    app = typer.Typer()
    app.command("simulate")(simulate)
    truth = tmp_path / "truth.csv"
    args = ["--seed", "5", "--persons", "30", "--bootstrap", kafka_bootstrap, "--topic-prefix", unique_prefix]
    outcome = CliRunner().invoke(
        app,
        [*args, "--no-wait", "--truth-file", str(truth)],
        env={"JOINEDUP_CONSENT_API_URL": "", "JOINEDUP_CONSENT_TOKEN": ""},
    )
    assert outcome.exit_code == 0, outcome.output
    city = build_city(5, 30)
    assert read_truth_csv(truth) == dict(city.truth)
    assert "skipped" in outcome.output
    summary = gather_summary(kafka_bootstrap, city.agencies, topic_names=catalog_topics)
    assert sum(summary.submissions.values()) == len(city.submissions)


@pytest.mark.broker
def test_the_summary_counts_what_the_topics_hold_and_skips_what_does_not_decode(
    kafka_bootstrap: str, catalog_topics: dict[str, str]
) -> None:
    codec = default_codec()
    filled: dict[str, list[AvroRecord]] = {
        receipts_topic("police"): [example(SubmissionAccepted), rejected("invalid-nhs-number")],
        receipts_topic("jobcentre"): [rejected("invalid-nhs-number"), rejected("unknown-referral")],
        REFERRAL_EVENTS: [
            contact("police", "PNC1"),
            contact("nhs-acute-trust", "RAE1"),
            example(ReferralReceived),
        ],
        IDENTITY_EVENTS: list(IDENTITY),
        ALERTS: [alert("a1", "housing-needs"), alert("a1", "housing-needs"), alert("a2", "work-capability")],
    }
    producer = kafka_clients.producer(kafka_bootstrap, "summary-test")
    for topic, records in filled.items():
        for record in records:
            producer.send(catalog_topics[topic], key=b"k", value=codec.encode(record))
    producer.send(catalog_topics[ALERTS], key=b"k", value=b"not avro at all")
    producer.flush(timeout=30)
    producer.close()
    summary = gather_summary(
        kafka_bootstrap, ["police", "jobcentre"], topic_names=catalog_topics, truth=TRUTH
    )
    assert summary.submissions == Counter()
    assert summary.receipts.accepted == 1
    assert summary.receipts.rejected == Counter({"invalid-nhs-number": 2, "unknown-referral": 1})
    assert summary.canonical == Counter({"ContactRecorded": 2, "ReferralReceived": 1})
    assert summary.persons_net == 2
    assert (summary.identity.true_persons, summary.identity.exactly_right) == (2, 2)
    assert (summary.contacts.contacts, summary.contacts.busiest) == (2, "P1")
    assert summary.repeat_alerts == Counter({"housing-needs": 1, "work-capability": 1})
    assert summary.undecodable == 1


@pytest.mark.broker
def test_topics_that_hold_nothing_or_do_not_exist_count_zero(
    kafka_bootstrap: str, unique_prefix: str, catalog_topics: dict[str, str]
) -> None:
    empty = gather_summary(kafka_bootstrap, ["police"], topic_names=catalog_topics, timeout_s=5)
    assert (sum(empty.submissions.values()), empty.receipts.total, empty.persons_net) == (0, 0, 0)
    assert empty.problems == []
    missing = {name: f"{unique_prefix}missing.{name}" for name in catalog_topics}
    absent = gather_summary(kafka_bootstrap, ["police"], topic_names=missing, timeout_s=5)
    assert sum(absent.repeat_alerts.values()) == absent.contacts.contacts == 0
    assert any(p.startswith(ALERTS) for p in absent.problems)


class _StopAfterAgreements(Exception):
    """Raised by the stand-in for register_agreements: the command stops before it publishes anything."""


def test_simulate_registers_agreements_with_the_local_consent_api_on_its_configured_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    called: list[str] = []

    def register(city: object, url: str, token: str) -> list[object]:
        called.append(url)
        raise _StopAfterAgreements

    monkeypatch.setattr("joinedup.local.simulate_commands.register_agreements", register)
    app = typer.Typer()
    app.command("simulate")(simulate)
    outcome = CliRunner().invoke(
        app,
        ["--seed", "5", "--persons", "30", "--no-wait", "--truth-file", str(tmp_path / "truth.csv")],
        env={
            "JOINEDUP_CONSENT_API_URL": "",
            "JOINEDUP_CONSENT_TOKEN": "dpo",
            "JOINEDUP_CONSENT_API_PORT": "18181",
        },
    )
    assert isinstance(outcome.exception, _StopAfterAgreements), outcome.output
    assert called == ["http://127.0.0.1:18181"]
