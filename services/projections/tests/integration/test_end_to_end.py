"""Issue 7 end to end on a real broker: canonical events from three agencies -> identity worker -> person
view worker -> alerts; the consent service (in-process, over HTTP) -> the query API (in-process) -> the
access audit topic -> ``joinedup audit verify``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import yaml
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pydantic import SecretStr
from typer.testing import CliRunner

from joinedup.consent import bootstrap as consent_bootstrap
from joinedup.consent.settings import ConsentSettings
from joinedup.contract.envelope import envelope_for, event_id_for, to_kafka_timestamp
from joinedup.contract.kafka import consumer, producer
from joinedup.contract.models.alerts import RepeatAssessmentDetected
from joinedup.contract.models.audit import AccessRecorded
from joinedup.contract.models.event import Event
from joinedup.contract.models.intake import ConsentStatement
from joinedup.contract.models.referral import AssessmentScheduled
from joinedup.contract.models.shared_records import ConsentScope, PersonRecord
from joinedup.contract.serde import default_codec
from joinedup.contract.settings import KafkaSettings
from joinedup.contract.topics import ALERTS, AUDIT_ACCESS, REFERRAL_EVENTS, intake_topic
from joinedup.local.broker import free_port
from joinedup.local.supervisor import joinedup_executable
from joinedup.projections.bootstrap import build_api, identity_worker, person_view_worker, serve_all
from joinedup.projections.entrypoints.cli import register
from joinedup.projections.person_view.event_factory import assessment, contact
from joinedup.projections.person_view.reader_sqlite import ReadOnlySqlitePersonViewReader
from joinedup.projections.person_view.worker import PersonViewWorker, store_path
from joinedup.projections.settings import ApiSettings, ProjectionsSettings

pytestmark = [pytest.mark.broker, pytest.mark.slow]

NHS = "9434765919"
PURPOSE = "housing-support"
CONSENT_ADMIN = "consent-admin-token"
CASEWORKER = "jobcentre-caseworker-token"
DPO = "jobcentre-dpo-token"
RECORDS = [("council-housing", "H-77"), ("police", "PN-1234"), ("probation", "PR-5")]


def noisy_records() -> dict[str, PersonRecord]:
    """One real person as three agencies hold them: different local ids, formats and spellings."""
    return {
        "police": PersonRecord(
            local_person_id="PN-1234",
            nhs_number="943 476 5919",
            given_names="Jon",
            family_name="O'Neill",
            postcode="m5 4wt",
        ),
        "council-housing": PersonRecord(
            local_person_id="H-77",
            nhs_number=NHS,
            given_names="Jonathan",
            family_name="ONeill",
            date_of_birth=datetime(1990, 4, 2, tzinfo=UTC).date(),
            postcode="M5 4WT",
        ),
        "probation": PersonRecord(
            local_person_id="PR-5",
            nhs_number=NHS,
            given_names="JONATHAN",
            family_name="O Neill",
            date_of_birth=datetime(1990, 4, 2, tzinfo=UTC).date(),
        ),
    }


def canonical_events(base: datetime) -> list[Event]:
    people = noisy_records()
    return [
        contact(
            "police",
            "CAD-1",
            "PN-1234",
            when=base,
            subject=people["police"],
            data_categories=("identity", "criminal-justice"),
        ),
        assessment(
            AssessmentScheduled,
            "council-housing",
            "HRA-1",
            "H-77",
            "hra-s189a",
            when=base + timedelta(days=2),
            subject=people["council-housing"],
            data_categories=("identity", "housing"),
        ),
        # the probation accommodation screen repeats the housing needs assessment (one equivalence group)
        assessment(
            AssessmentScheduled,
            "probation",
            "ACC-1",
            "PR-5",
            "probation-accommodation-screen",
            when=base + timedelta(days=9),
            subject=people["probation"],
            data_categories=("identity", "criminal-justice"),
        ),
    ]


def publish(bootstrap: str, topic: str, events: list[Event], key: Callable[[Event], str]) -> None:
    sender: KafkaProducer = producer(bootstrap, "test-e2e-publisher")
    codec = default_codec()
    try:
        for event in events:
            sender.send(
                topic,
                value=codec.encode(event),
                key=key(event).encode(),
                timestamp_ms=to_kafka_timestamp(event.envelope.occurred_at),
            )
        sender.flush(timeout=30)
    finally:
        sender.close(timeout=10)


def read_all(bootstrap: str, topic: str, *, at_least: int, timeout_s: float = 90) -> list[bytes]:
    """Every committed value of a one-partition topic, waiting for ``at_least`` and then 2 s more."""
    reader: KafkaConsumer = consumer(bootstrap, None, "test-e2e-reader")
    try:
        tp = TopicPartition(topic, 0)
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        settled: float | None = None
        while True:
            for batch in reader.poll(timeout_ms=200).values():
                values.extend(m.value for m in batch)
            now = time.monotonic()
            if settled is None and len(values) >= at_least:
                settled = now + 2
            if (settled is not None and now >= settled) or now > deadline:
                return values
    finally:
        reader.close()


@contextmanager
def in_background(main: Callable[[asyncio.Event], Coroutine[Any, Any, None]], name: str) -> Iterator[None]:
    """``main(stop)`` on its own event loop in a thread; stopped (and its failure raised) on exit."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main(stop))
        except BaseException as error:
            failure.append(error)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield
        if failure:
            raise failure[0]
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
    assert not thread.is_alive(), f"{name} did not stop"
    if failure:
        raise failure[0]


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def write_tokens(path: Path, tokens: Mapping[str, tuple[str, str, str]]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"tokens": {t: {"agency": a, "user": u, "role": r} for t, (a, u, r) in tokens.items()}}
        )
    )
    return path


def withdrawal(now: datetime) -> ConsentStatement:
    """The person withdraws consent at council-housing (a scope naming nothing covers everything)."""
    return ConsentStatement(
        envelope=envelope_for(
            ConsentStatement,
            event_id=event_id_for("test-e2e", "withdrawal"),
            occurred_at=now,
            recorded_at=now,
            source_agency="council-housing",
            correlation_id="test-e2e-withdrawal",
            subject=None,
        ),
        statement_ref="CS-E2E-1",
        version=1,
        subject=PersonRecord(local_person_id="H-77"),
        kind="withdrawn",
        scope=ConsentScope(),
        valid_from=now,
        captured_by="housing-officer-3",
    )


def headers(token: str, purpose: str = PURPOSE) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Purpose": purpose}


def test_three_agencies_one_person_one_alert_enforced_and_audited_reads(
    kafka_bootstrap: str, catalog_topics: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    kafka = KafkaSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    publish(
        kafka_bootstrap,
        catalog_topics[REFERRAL_EVENTS],
        canonical_events(base),
        key=lambda e: (
            f"{e.envelope.subject.agency}/{e.envelope.subject.local_person_id}" if e.envelope.subject else ""
        ),
    )

    projections = ProjectionsSettings(data_dir=tmp_path / "data", topic_prefix=unique_prefix)

    running: list[PersonViewWorker] = []

    async def workers(stop: asyncio.Event) -> None:
        identity = identity_worker(projections, kafka, catalog_topics)
        view = person_view_worker(projections, kafka, catalog_topics)
        running[:] = [view]
        try:
            await serve_all([identity, view], stop)
        finally:
            view.close()
            identity.close()

    consent_port = free_port()
    consent_settings = ConsentSettings(
        data_dir=tmp_path / "consent",
        topic_prefix=unique_prefix,
        api_port=consent_port,
        tokens_file=write_tokens(
            tmp_path / "consent-tokens.yaml", {CONSENT_ADMIN: ("council-housing", "admin-1", "admin")}
        ),
    )

    async def consent(stop: asyncio.Event) -> None:
        process = consent_bootstrap.build(consent_settings, kafka, topic_names=catalog_topics)
        try:
            await consent_bootstrap.serve(process, consent_settings, stop)
        finally:
            process.close()

    consent_url = f"http://127.0.0.1:{consent_port}"
    with in_background(workers, "projections"), in_background(consent, "consent"):
        # ---- one person with every agency's record and item; exactly one alert
        reader = ReadOnlySqlitePersonViewReader(store_path(projections.data_dir))

        def one_person_with_all_records() -> bool:
            person_id = reader.person_of_record("police", "PN-1234")
            view = reader.person(person_id) if person_id else None
            return view is not None and len(view.records) == 3 and len(view.items) == 3

        wait_for(one_person_with_all_records, "the person view to hold one person with three records")
        person_id = reader.person_of_record("police", "PN-1234")
        assert person_id is not None
        assert {reader.person_of_record(a, i) for a, i in RECORDS} == {person_id}
        view = reader.person(person_id)
        assert view is not None
        assert sorted((r.agency, r.local_person_id) for r in view.records) == RECORDS
        assert sorted(i.owner_agency for i in view.items) == ["council-housing", "police", "probation"]
        reader.close()

        alerts = read_all(kafka_bootstrap, catalog_topics[ALERTS], at_least=1)
        assert len(alerts) == 1
        alert = default_codec().decode(alerts[0])
        assert isinstance(alert, RepeatAssessmentDetected)
        assert alert.person_id == person_id
        assert alert.to_agency == "probation"
        assert alert.equivalence_group == "housing-needs"
        assert [e.agency for e in alert.earlier] == ["council-housing"]

        # ---- the query API: in-process app over the real store, consent service and audit topic
        wait_for(lambda: _healthy(consent_url), "the consent API")
        api_settings = ApiSettings(
            data_dir=projections.data_dir,
            tokens_file=write_tokens(
                tmp_path / "api-tokens.yaml",
                {CASEWORKER: ("jobcentre", "cw-1", "caseworker"), DPO: ("jobcentre", "dpo-1", "dpo")},
            ),
            consent_url=consent_url,
            consent_token=SecretStr(CONSENT_ADMIN),
            topic_prefix=unique_prefix,
        )
        api = build_api(api_settings, kafka)
        started = contextlib.ExitStack()
        try:
            # as a context manager: its start-up opens the decision pool and the audit producer on its loop
            client = started.enter_context(TestClient(api.app))
            reads = 0

            # no basis at all: a uniform 404 (and audited)
            denied = client.get(f"/v1/persons/{person_id}", headers=headers(CASEWORKER))
            reads += 1
            assert denied.status_code == 404

            # an agreement for housing-support covering identity + housing data of the three agencies
            registered = httpx.post(
                f"{consent_url}/v1/agreements",
                headers={"Authorization": f"Bearer {CONSENT_ADMIN}"},
                json={
                    "agreement_id": "ISA-E2E-1",
                    "owner_agencies": ["council-housing", "police", "probation"],
                    "recipient_agencies": ["jobcentre"],
                    "purposes": [PURPOSE],
                    "data_categories": ["identity", "housing"],
                    "lawful_basis": "public-task",
                    "legal_reference": "Homelessness Reduction Act 2017 s.213B",
                    "valid_from": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                },
                timeout=10,
            )
            assert registered.status_code == 202, registered.text

            def shared() -> bool:
                nonlocal reads
                reads += 1
                return bool(
                    client.get(f"/v1/persons/{person_id}", headers=headers(CASEWORKER)).status_code == 200
                )

            wait_for(shared, "the agreement to reach the decision point", timeout_s=60)
            seen = client.get(f"/v1/persons/{person_id}", headers=headers(CASEWORKER))
            reads += 1
            body = seen.json()
            assert [(i["agency"], i["type"]) for i in body["items"]] == [("council-housing", "hra-s189a")]
            assert body["items"][0]["bases"][0]["kind"] == "agreement"
            assert body["withheld"] == 2  # the police contact and the probation screen: criminal-justice
            assert [r["agency"] for r in body["records"]] == ["council-housing"]

            # another purpose is not covered by the agreement
            other = client.get(f"/v1/persons/{person_id}", headers=headers(CASEWORKER, "offender-management"))
            reads += 1
            assert other.status_code == 404

            # the person withdraws consent: later reads withhold again
            now = datetime.now(UTC)
            publish(
                kafka_bootstrap,
                catalog_topics[intake_topic("council-housing")],
                [withdrawal(now)],
                key=lambda _e: "council-housing/H-77",
            )

            def withheld_again() -> bool:
                nonlocal reads
                reads += 1
                answer = client.get(f"/v1/persons/{person_id}", headers=headers(CASEWORKER))
                return bool(answer.status_code == 404)

            wait_for(withheld_again, "the withdrawal to reach the decision point", timeout_s=60)

            trail = client.get(
                f"/v1/persons/{person_id}/consent-trail", headers=headers(DPO, "data-protection-oversight")
            )
            reads += 1
            assert trail.status_code == 200, trail.text
            refs = {entry["ref"] for entry in trail.json()["trail"]["entries"]}
            assert {"ISA-E2E-1", "council-housing/CS-E2E-1"} <= refs  # the agreement and the withdrawal
        finally:
            started.close()
            api.close()

        # ---- every read is in the audit log; the chain verifies, then fails after a planted edit
        audit_topic = catalog_topics[AUDIT_ACCESS]
        values = read_all(kafka_bootstrap, audit_topic, at_least=reads)
        records = [default_codec().decode(v) for v in values]
        assert all(isinstance(r, AccessRecorded) for r in records)
        assert len(records) == reads
        assert {r.person_id for r in records if isinstance(r, AccessRecorded)} == {person_id}
        outcomes = [r.outcome for r in records if isinstance(r, AccessRecorded)]
        assert outcomes[0] == "denied"
        assert "withheld" in outcomes

        verify = ["audit", "verify", "--bootstrap", kafka_bootstrap, "--topic", audit_topic]
        assert CliRunner().invoke(cli(), verify).exit_code == 0

        last = records[-1]
        assert isinstance(last, AccessRecorded)
        forged = last.model_copy(update={"sequence": last.sequence + 1, "user_id": "someone-else"})
        sender: KafkaProducer = producer(kafka_bootstrap, "test-e2e-forger")
        try:
            sender.send(audit_topic, value=default_codec().encode(forged), partition=0)
            sender.flush(timeout=30)
        finally:
            sender.close(timeout=10)
        assert CliRunner().invoke(cli(), verify).exit_code == 1

    # ---- the workers are stopped: a rebuild from offset 0 gives the very same view
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": unique_prefix}
    data_dir = ["--data-dir", str(projections.data_dir)]
    live_hash = CliRunner().invoke(cli(), ["projections", "hash", *data_dir]).stdout.strip()
    assert len(live_hash) == 64
    rebuilt = CliRunner().invoke(cli(), ["projections", "rebuild", *data_dir], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert CliRunner().invoke(cli(), ["projections", "hash", *data_dir]).stdout.strip() == live_hash
    elsewhere = ["--data-dir", str(tmp_path / "elsewhere")]
    assert CliRunner().invoke(cli(), ["projections", "rebuild", *elsewhere], env=env).exit_code == 0
    assert CliRunner().invoke(cli(), ["projections", "hash", *elsewhere]).stdout.strip() == live_hash

    # ---- a worker restarted on the rebuilt store does not publish the alert again
    running.clear()
    with in_background(workers, "projections again"):
        wait_for(lambda: bool(running) and running[0].caught_up.is_set(), "the restarted worker to catch up")
        assert len(read_all(kafka_bootstrap, catalog_topics[ALERTS], at_least=2, timeout_s=5)) == 1


def cli() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


def _healthy(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/healthz", timeout=2).status_code == 200)
    except httpx.HTTPError:
        return False


def _wait_http(url: str, timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_joinedup_run_projections_and_run_api_serve_and_stop_cleanly_on_sigterm(
    kafka_bootstrap: str, catalog_topics: dict[str, str], unique_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "JOINEDUP_PROJECTIONS_DATA_DIR": str(data_dir),
        "JOINEDUP_PROJECTIONS_TOPIC_PREFIX": unique_prefix,
        "JOINEDUP_API_DATA_DIR": str(data_dir),
        "JOINEDUP_API_TOPIC_PREFIX": unique_prefix,
        "JOINEDUP_API_PORT": str(port),
        "JOINEDUP_API_CONSENT_URL": f"http://127.0.0.1:{free_port()}",  # nobody there: fail closed
        "JOINEDUP_API_TOKENS_FILE": str(
            write_tokens(tmp_path / "tokens.yaml", {CASEWORKER: ("police", "cw-9", "caseworker")})
        ),
    }
    publish(
        kafka_bootstrap,
        catalog_topics[REFERRAL_EVENTS],
        canonical_events(datetime.now(UTC).replace(microsecond=0) - timedelta(days=30))[:1],
        key=lambda _e: "police/PN-1234",
    )
    executable = joinedup_executable()
    workers = subprocess.Popen([executable, "run", "projections"], env=env, stdin=subprocess.DEVNULL)
    api = subprocess.Popen([executable, "run", "api"], env=env, stdin=subprocess.DEVNULL)
    try:
        assert _wait_http(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert _wait_http(f"http://127.0.0.1:{port}/docs").status_code == 200
        reader = ReadOnlySqlitePersonViewReader(store_path(data_dir))
        wait_for(lambda: reader.person_of_record("police", "PN-1234") is not None, "the worker's view")
        person_id = reader.person_of_record("police", "PN-1234")
        reader.close()
        own = httpx.get(
            f"http://127.0.0.1:{port}/v1/persons/{person_id}",
            headers=headers(CASEWORKER, "offender-management"),
            timeout=10,
        )
        assert own.status_code == 200, own.text  # the caller's own record needs no decision
        assert [i["agency"] for i in own.json()["items"]] == ["police"]
        assert len(read_all(kafka_bootstrap, catalog_topics[AUDIT_ACCESS], at_least=1)) == 1
    finally:
        for process in (api, workers):
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=30) for process in (api, workers)]
    assert codes == [0, 0]
