"""The topic catalog and the schemas agree: every record a topic carries exists, has a model and starts with
the envelope; every event record travels on some topic; each context's events go to its own topics."""

from __future__ import annotations

from joinedup.contract.models import ALL_MODELS, Event
from joinedup.contract.schemas import registry
from joinedup.contract.topics import catalog, intake_topic, intake_topics
from joinedup.contract.vocabularies import vocabularies


def carried() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for spec in catalog().templates:
        for value in spec.values:
            out.setdefault(value, []).append(spec.name)
    return out


def test_every_record_a_topic_carries_has_a_schema_and_an_event_model() -> None:
    for name in carried():
        model = registry()[name].model
        assert model is not None, name
        assert issubclass(model, Event), name
        assert registry().tree.current[name].raw["fields"][0]["name"] == "envelope"


def test_every_event_model_travels_on_some_topic() -> None:
    events = {m.avro_name for m in ALL_MODELS if issubclass(m, Event)}
    assert events == set(carried())


def test_records_without_an_envelope_are_only_parts_of_other_records() -> None:
    parts = {m.avro_name for m in ALL_MODELS if not issubclass(m, Event)}
    assert parts.isdisjoint(carried())
    assert "joinedup.common.PersonRecord" in parts


def test_each_context_publishes_on_the_topics_of_its_context() -> None:
    expected_topic = {
        "intake": "joinedup.intake.{agency}",
        "receipts": "joinedup.receipts.{agency}",
        "referral": "joinedup.referral.events",
        "consent": "joinedup.consent.events",
        "identity": "joinedup.identity.events",
        "identity-assertions": "joinedup.identity.assertions",
        "alerts": "joinedup.alerts",
        "audit": "joinedup.audit.access",
        "deadletter": "joinedup.deadletter",
    }
    assertions = {"joinedup.identity.SamePersonAsserted", "joinedup.identity.DifferentPersonsAsserted"}
    for name, topics in carried().items():
        context = "identity-assertions" if name in assertions else name.split(".")[1]
        assert topics == [expected_topic[context]], name


def test_every_identity_event_records_the_matching_model_version() -> None:
    for name, topics in carried().items():
        if topics == ["joinedup.identity.events"]:
            fields = [f["name"] for f in registry().tree.current[name].raw["fields"]]
            assert "model_version" in fields, name


def test_the_access_record_carries_the_dpa_2018_section_62_fields() -> None:
    fields = {f["name"] for f in registry().tree.current["joinedup.audit.AccessRecorded"].raw["fields"]}
    assert {
        "user_id",
        "agency",
        "role",
        "purpose",
        "person_id",
        "disclosed",
        "withheld_count",
        "break_glass",
        "break_glass_justification",
        "prev_hash",
        "hash",
    } <= fields
    disclosed = {f["name"] for f in registry().tree.current["joinedup.audit.DisclosedItem"].raw["fields"]}
    assert {"basis", "basis_ref", "data_category", "owner_agency"} <= disclosed


def test_the_intake_topics_are_one_per_agency_of_the_vocabulary_sorted() -> None:
    agencies = [agency.code for agency in vocabularies().agencies.codes]
    topics = intake_topics()
    assert list(topics) == sorted(topics)
    assert set(topics) == {intake_topic(agency) for agency in agencies}
    assert all(name in catalog() for name in topics)
