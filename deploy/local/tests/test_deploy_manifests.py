"""deploy/: the Dockerfile, compose.yaml and the Kubernetes manifests, validated without Docker or a cluster.

They must parse, carry every catalog topic, run exactly the four `joinedup run` verbs everywhere, give each
agency access to its own intake and receipts topics only, and hold no real secret.
"""

from __future__ import annotations

import importlib
import json
import math
import re
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from joinedup.contract.topics import (
    AGENCY_PLACEHOLDER,
    DEAD_LETTER,
    INTAKE_PREFIX,
    RECEIPTS_PREFIX,
    TopicCatalog,
    catalog,
    intake_topic,
    receipts_topic,
)
from joinedup.contract.vocabularies import vocabularies
from joinedup.local.deploy_commands import deploy_app
from joinedup.local.layout import repo_root
from joinedup.local.manifests import (
    PROCESSES,
    RECEIPTS_TEMPLATE,
    TOPICS_FILE,
    USERS_FILE,
    agency_user,
    process_verbs,
    rendered_files,
    stale_files,
    write_files,
)

ROOT = repo_root()
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
VERBS = {"referral", "consent", "projections", "api"}


@cache
def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _k8s_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml"))


def _k8s_resources(kind: str | None = None) -> list[dict[str, Any]]:
    resources = [doc for path in _k8s_files() for doc in _documents(path)]
    return [r for r in resources if kind is None or r["kind"] == kind]


def _workloads() -> list[dict[str, Any]]:
    return [r for r in _k8s_resources() if r["kind"] in WORKLOAD_KINDS]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _final_stage(dockerfile: str) -> list[str]:
    """The instructions of the Dockerfile's last stage, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    last_from = max(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    return lines[last_from:]


def _entrypoint() -> list[str]:
    stage = _final_stage(DOCKERFILE.read_text(encoding="utf-8"))
    entrypoints = [ln for ln in stage if ln.upper().startswith("ENTRYPOINT ")]
    assert len(entrypoints) == 1
    argv: list[str] = json.loads(entrypoints[0].split(" ", 1)[1])
    return argv


def _argv_of_compose_service(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return _entrypoint() + (command.split() if isinstance(command, str) else list(command))


def _argv_of_container(container: dict[str, Any]) -> list[str]:
    return list(container.get("command", _entrypoint())) + list(container.get("args", []))


def _run_verb(argv: list[str]) -> str | None:
    if len(argv) == 3 and argv[:2] == ["joinedup", "run"]:
        return argv[2]
    return None


# ------------------------------------------------------------------------------------------------ parsing


def test_every_deploy_yaml_file_parses_into_mappings() -> None:
    paths = [COMPOSE, *_k8s_files()]
    assert len(paths) >= 8
    for path in paths:
        documents = _documents(path)
        assert documents, f"{path} is empty"
        assert all(isinstance(d, dict) for d in documents), path


def test_every_kubernetes_resource_names_its_api_version_kind_and_name() -> None:
    for resource in _k8s_resources():
        if resource["kind"] == "Kustomization":
            continue
        assert resource["apiVersion"], resource
        assert resource["metadata"]["name"], resource


def test_the_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    (kustomization,) = _documents(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in _k8s_files()} - {"kustomization.yaml"}
    assert listed == on_disk - {"tokens-secret.example.yaml"}


# ------------------------------------------------------------------------------------------------ topics


def test_every_catalog_topic_appears_exactly_once_with_its_partitions_and_retention() -> None:
    topics = _documents(K8S / TOPICS_FILE)
    assert all(t["kind"] == "KafkaTopic" for t in topics)
    counts = Counter(t["spec"]["topicName"] for t in topics)
    assert set(counts) == set(catalog().names())
    assert set(counts.values()) == {1}
    for resource in topics:
        spec = catalog()[resource["spec"]["topicName"]]
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == "joinedup"
        assert resource["spec"]["partitions"] == spec.partitions
        config = resource["spec"]["config"]
        assert config["retention.ms"] == str(spec.retention_ms)
        assert config["cleanup.policy"] == spec.config()["cleanup.policy"]


def test_topics_retained_forever_have_no_time_limit_and_intake_keeps_thirty_days() -> None:
    by_name = {t["spec"]["topicName"]: t["spec"]["config"] for t in _documents(K8S / TOPICS_FILE)}
    assert by_name["joinedup.referral.events"]["retention.ms"] == "-1"
    assert by_name[intake_topic("police")]["retention.ms"] == str(30 * 86_400_000)


def test_every_intake_topic_has_the_same_partition_count_so_shard_i_is_partition_i_of_each() -> None:
    topics = _documents(K8S / TOPICS_FILE)
    intake = {t["spec"]["partitions"] for t in topics if t["spec"]["topicName"].startswith(INTAKE_PREFIX)}
    assert len(intake) == 1


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(deploy_app, name="deploy")
    return app


def test_render_check_passes_on_the_checked_in_manifests() -> None:
    result = CliRunner().invoke(_cli(), ["deploy", "render", "--check"])
    assert result.exit_code == 0, result.output
    assert stale_files() == []


def test_render_check_exits_1_when_a_generated_file_was_edited_by_hand(tmp_path: Path) -> None:
    write_files(tmp_path)
    topics = tmp_path / TOPICS_FILE
    topics.write_text(topics.read_text().replace("partitions: 3", "partitions: 4", 1))
    result = CliRunner().invoke(_cli(), ["deploy", "render", "--check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert TOPICS_FILE in result.output


def test_render_writes_the_files_that_check_then_accepts(tmp_path: Path) -> None:
    first = CliRunner().invoke(_cli(), ["deploy", "render", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([TOPICS_FILE, USERS_FILE])
    check = CliRunner().invoke(_cli(), ["deploy", "render", "--check", "--dir", str(tmp_path)])
    assert check.exit_code == 0, check.output


def test_a_change_in_the_catalog_makes_the_checked_in_topics_stale() -> None:
    current = catalog()
    changed = TopicCatalog(
        tuple(
            t.model_copy(update={"partitions": t.partitions + 1}) if t.name == DEAD_LETTER else t
            for t in current.templates
        ),
        vocabularies(),
    )
    rendered = rendered_files(topics=changed)
    assert stale_files(K8S, {TOPICS_FILE: rendered[TOPICS_FILE]}) == [TOPICS_FILE]


# ------------------------------------------------------------------------------------------------ compose


def test_compose_runs_apache_kafka_4_1_in_kraft_mode() -> None:
    kafka = _compose()["services"]["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "healthcheck" in kafka


def test_compose_runs_one_container_per_service_verb_built_from_the_root_dockerfile() -> None:
    services = _compose()["services"]
    verbs = {}
    for name, service in services.items():
        verb = _run_verb(_argv_of_compose_service(service)) if name != "kafka" else None
        if verb is None:
            continue
        verbs[name] = verb
        assert service["build"] == {"context": "..", "dockerfile": "Dockerfile"}
        assert "healthcheck" in service, name
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert sorted(verbs.values()) == sorted(VERBS)
    assert set(verbs.values()) == process_verbs()


def test_compose_creates_the_topics_once_before_the_services_start() -> None:
    topics = _compose()["services"]["topics"]
    assert _argv_of_compose_service(topics) == ["joinedup", "topics", "apply"]
    assert topics["restart"] == "no"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_compose_keeps_each_service_data_dir_on_a_named_volume() -> None:
    compose = _compose()
    for service in compose["services"].values():
        data_dirs = [v for k, v in service.get("environment", {}).items() if k.endswith("_DATA_DIR")]
        for data_dir in data_dirs:
            mounts = [m.split(":") for m in service["volumes"]]
            assert any(
                volume in compose["volumes"] and data_dir.startswith(target) for volume, target in mounts
            ), data_dir


def test_compose_gives_the_token_file_only_as_a_secret() -> None:
    compose = _compose()
    assert set(compose["secrets"]) == {"api-tokens"}
    for name in ("api", "consent"):
        service = compose["services"][name]
        assert service["secrets"] == ["api-tokens"]
        (tokens_file,) = [v for k, v in service["environment"].items() if k.endswith("_TOKENS_FILE")]
        assert tokens_file == "/run/secrets/api-tokens"


# ------------------------------------------------------------------------------------------------ Dockerfile


def test_the_image_runs_the_joinedup_entry_point_as_a_non_root_user() -> None:
    scripts = tomllib.loads((DEPLOY / "local" / "pyproject.toml").read_text())["project"]["scripts"]
    assert _entrypoint() == ["joinedup"]
    assert "joinedup" in scripts
    stage = _final_stage(DOCKERFILE.read_text())
    (user,) = [ln.split()[1] for ln in stage if ln.upper().startswith("USER ")]
    assert user.split(":")[0] not in {"root", "0"}
    assert any(ln.upper().startswith("VOLUME ") and "/var/lib/joinedup" in ln for ln in stage)


def test_the_image_installs_the_locked_workspace_with_the_makefiles_uv() -> None:
    dockerfile = DOCKERFILE.read_text()
    make_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    docker_uv = re.search(r"^ARG UV_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    assert make_uv is not None
    assert docker_uv is not None
    assert make_uv.group(1) == docker_uv.group(1)
    assert "uv sync --frozen --all-packages --no-dev" in dockerfile
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) >= 2


def test_the_build_context_leaves_out_local_state_and_caches() -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".tools", ".joinedup", ".pytest_cache", ".mypy_cache", ".ruff_cache"} <= ignored


# ------------------------------------------------------------------------------------------------ workloads


def _verb_containers() -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(workload, container, verb) for every container of every workload."""
    found = []
    for workload in _workloads():
        for container in _containers(workload):
            verb = _run_verb(_argv_of_container(container))
            assert verb is not None, (workload["metadata"]["name"], container["name"])
            found.append((workload, container, verb))
    return found


def _data_dir(container: dict[str, Any], verb: str) -> str:
    env = {e["name"]: e.get("value") for e in container["env"]}
    value: str = env[f"JOINEDUP_{verb.upper()}_DATA_DIR"]
    return value


def test_every_kubernetes_workload_runs_one_of_the_same_verbs_from_the_joinedup_image() -> None:
    verbs = []
    for _workload, container, verb in _verb_containers():
        assert container["image"].split(":")[0] == "joinedup"
        verbs.append(verb)
    assert sorted(verbs) == sorted(VERBS)
    compose_verbs = {_run_verb(_argv_of_compose_service(s)) for s in _compose()["services"].values()}
    assert set(verbs) == compose_verbs - {None}


def test_every_process_keeps_its_data_dir_on_a_statefulsets_claim() -> None:
    for workload, container, verb in _verb_containers():
        assert workload["kind"] == "StatefulSet", verb
        claims = {c["metadata"]["name"] for c in workload["spec"]["volumeClaimTemplates"]}
        data_dir = _data_dir(container, verb)
        assert any(
            m["name"] in claims and data_dir.startswith(m["mountPath"]) for m in container["volumeMounts"]
        ), verb


def test_the_query_api_reads_the_person_view_where_the_projections_worker_writes_it() -> None:
    def mounted_dir(container: dict[str, Any], verb: str) -> tuple[str, str]:
        data_dir = _data_dir(container, verb)
        (mount,) = [m for m in container["volumeMounts"] if data_dir.startswith(m["mountPath"])]
        return mount["name"], data_dir

    placed = {
        verb: (workload["metadata"]["name"], container) for workload, container, verb in _verb_containers()
    }
    assert placed["api"][0] == placed["projections"][0], "the API must share the projections pod"
    assert mounted_dir(placed["api"][1], "api") == mounted_dir(placed["projections"][1], "projections")
    services = _compose()["services"]
    assert (
        services["api"]["environment"]["JOINEDUP_API_DATA_DIR"]
        == (services["projections"]["environment"]["JOINEDUP_PROJECTIONS_DATA_DIR"])
    )
    volume_of = {
        name: {v.split(":")[0] for v in services[name]["volumes"]} for name in ("api", "projections")
    }
    assert volume_of["api"] == volume_of["projections"]


def test_every_container_has_cpu_and_memory_requests_and_limits() -> None:
    for workload in _workloads():
        for container in _containers(workload):
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources[bound]), (workload["metadata"]["name"], bound)


def test_workloads_run_as_a_non_root_user_with_a_read_only_root() -> None:
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_query_api_and_the_consent_decision_api_are_behind_services() -> None:
    served = {}
    for service in _k8s_resources("Service"):
        selector = service["spec"]["selector"]["app.kubernetes.io/name"]
        for port in service["spec"].get("ports", []):
            pods = [
                w
                for w in _workloads()
                if w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == selector
            ]
            (verb,) = [
                _run_verb(_argv_of_container(c))
                for w in pods
                for c in _containers(w)
                if port["port"] in {p["containerPort"] for p in c.get("ports", [])}
            ]
            served[service["metadata"]["name"]] = (verb, port["port"])
    assert served == {"joinedup-api": ("api", 8080), "joinedup-consent": ("consent", 8081)}


def test_each_workload_connects_to_kafka_with_its_own_kafka_user_certificate() -> None:
    users = {u["metadata"]["name"] for u in _k8s_resources("KafkaUser")}
    for workload, container, verb in _verb_containers():
        process = next(p for p in PROCESSES if p.verb == verb)
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/joinedup/kafka-user"]
        assert volumes[mount["name"]]["secret"]["secretName"] == process.user
        assert process.user in users


# ------------------------------------------------------------------------------------------------ ACLs


def _topic_acls(user: dict[str, Any], operation: str) -> list[tuple[str, str]]:
    return [
        (acl["resource"]["name"], acl["resource"]["patternType"])
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == "topic" and operation in acl["operations"]
    ]


def test_every_agency_may_write_only_its_intake_topic_and_read_only_its_receipts() -> None:
    users = {u["metadata"]["name"]: u for u in _k8s_resources("KafkaUser")}
    agencies = [a.code for a in vocabularies().agencies.codes]
    assert len(agencies) >= 8
    for agency in agencies:
        user = users[agency_user(agency)]
        assert user["spec"]["authentication"]["type"] == "tls"
        assert _topic_acls(user, "Write") == [(intake_topic(agency), "literal")]
        assert _topic_acls(user, "Read") == [(receipts_topic(agency), "literal")]
        resource_types = {acl["resource"]["type"] for acl in user["spec"]["authorization"]["acls"]}
        assert resource_types == {"topic", "group"}


def test_no_service_may_write_an_agencys_intake_topic() -> None:
    for process in PROCESSES:
        assert not any(t.startswith(INTAKE_PREFIX) for t in process.writes), process.verb
    service_users = [u for u in _k8s_resources("KafkaUser") if u["metadata"]["name"].startswith("joinedup-")]
    assert len(service_users) == len(PROCESSES)
    for user in service_users:
        assert not any(name.startswith(INTAKE_PREFIX) for name, _ in _topic_acls(user, "Write"))


def test_every_topic_a_service_owns_is_written_by_that_service_and_by_no_other() -> None:
    # consent also sends rejection receipts; the catalog names referral as the receipts topic's owner
    also_written_by = {RECEIPTS_TEMPLATE: {"consent"}}
    packages = {p.package for p in PROCESSES}
    for template in catalog().templates:
        writers = {p.package for p in PROCESSES if template.name in p.writes}
        if template.owner in packages:
            assert writers - also_written_by.get(template.name, set()) == {template.owner}, template.name
        elif template.name == DEAD_LETTER:
            assert writers == packages
        else:
            assert template.owner == "agency", template.name
            assert writers == set(), template.name


def test_service_acls_cover_every_topic_the_process_reads_and_writes() -> None:
    users = {u["metadata"]["name"]: u for u in _k8s_resources("KafkaUser")}
    for process in PROCESSES:
        user = users[process.user]
        for operation, topics in (("Read", process.reads), ("Write", process.writes)):
            granted = _topic_acls(user, operation)
            for topic in topics:
                if AGENCY_PLACEHOLDER in topic:
                    prefix = topic.split(AGENCY_PLACEHOLDER)[0]
                    assert (prefix, "prefix") in granted
                    assert prefix in (INTAKE_PREFIX, RECEIPTS_PREFIX)
                else:
                    assert (topic, "literal") in granted, (process.verb, operation, topic)


# ------------------------------------------------------------------------------------------------ secrets

_KNOWN_SECRET_SHAPES = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----"  # PEM private keys
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|xox[baprs]-"  # Slack tokens
    r"|eyJ[A-Za-z0-9_-]{10,}\."  # JWTs
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{24,}")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_like_a_real_secret(text: str) -> bool:
    if _KNOWN_SECRET_SHAPES.search(text):
        return True
    return any(
        _mixes_cases_and_digits(token) and _entropy(token) > 4.0 for token in _LONG_TOKEN.findall(text)
    )


def _mixes_cases_and_digits(token: str) -> bool:
    """Identifiers (UPPER_SNAKE, dotted lower case) use one case; random tokens mix both cases and digits."""
    return bool(re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"\d", token))


def test_the_secret_detector_flags_a_random_token_and_a_private_key_but_not_placeholders() -> None:
    assert _looks_like_a_real_secret("token: 9fQ2xL7vKp3RtZ8mWb1YcN5hJd4sGe6A")
    assert _looks_like_a_real_secret("-----BEGIN RSA PRIVATE KEY-----")
    assert not _looks_like_a_real_secret('"change-me-query-api-service-token": {role: service}')


def test_no_deploy_file_contains_a_real_looking_secret() -> None:
    files = [COMPOSE, DOCKERFILE, ROOT / ".dockerignore", *_k8s_files()]
    for path in files:
        flagged = [line for line in path.read_text().splitlines() if _looks_like_a_real_secret(line)]
        assert flagged == [], path


def test_every_secret_in_the_manifests_holds_placeholders_only() -> None:
    secrets = _k8s_resources("Secret")
    assert secrets
    for secret in secrets:
        assert "data" not in secret
        for value in secret["stringData"].values():
            for token in yaml.safe_load(value)["tokens"] if value.startswith("tokens:") else [value]:
                assert token.startswith("change-me"), token


def test_the_image_bakes_in_no_credentials() -> None:
    dockerfile = DOCKERFILE.read_text()
    for match in re.finditer(r"^(?:ENV|ARG)\s+(.*)$", dockerfile, re.MULTILINE):
        assert not re.search(r"PASSWORD|SECRET|TOKEN(?!S_FILE)|PRIVATE", match.group(1), re.IGNORECASE)
    assert not re.search(r"^COPY .*(tokens|\.pem|\.key)", dockerfile, re.MULTILINE)


@pytest.mark.parametrize(
    ("prefix", "settings_path"),
    [
        ("JOINEDUP_REFERRAL_", "joinedup.referral.bootstrap:ReferralSettings"),
        ("JOINEDUP_CONSENT_", "joinedup.consent.settings:ConsentSettings"),
        ("JOINEDUP_PROJECTIONS_", "joinedup.projections.settings:ProjectionsSettings"),
        ("JOINEDUP_API_", "joinedup.projections.settings:ApiSettings"),
    ],
)
def test_every_service_setting_the_deployments_set_exists(prefix: str, settings_path: str) -> None:
    module_name, class_name = settings_path.split(":")
    module = importlib.import_module(module_name)
    fields = set(getattr(module, class_name).model_fields)
    names = {k for s in _compose()["services"].values() for k in s.get("environment", {})}
    names |= {e["name"] for w in _workloads() for c in _containers(w) for e in c.get("env", [])}
    names |= set(re.findall(r"\b(JOINEDUP_[A-Z_]+)=", DOCKERFILE.read_text()))
    used = {n.removeprefix(prefix).lower() for n in names if n.startswith(prefix)}
    assert used
    assert used <= fields
