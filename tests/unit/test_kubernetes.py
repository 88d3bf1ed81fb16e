"""The Kubernetes manifests (deploy/kubernetes/), rendered by kustomize as `kubectl apply -k`
would, are valid against the Kubernetes schemas (kubernetes-validate ships them) and against
the operators' CRDs kept in schemas/kubernetes/, and have what running SafeCampus needs."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.settings import ROOT
from shared.topics import DECLARED, Topics
from shared.topics_strimzi import render as render_topics
from tools import kubernetes
from tools.stack import SERVICES

KUSTOMIZE = ROOT / ".local/bin/kustomize"
KUBERNETES_VERSION = "1.33.0"
CRDS = ROOT / "schemas/kubernetes"
OVERLAY = ROOT / "deploy/kubernetes/overlays/county"
BASE = ROOT / "deploy/kubernetes/base"


def build(path: Path) -> list[dict[str, Any]]:
    assert KUSTOMIZE.exists(), "make kustomize"
    built = subprocess.run(
        [str(KUSTOMIZE), "build", str(path)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return build(OVERLAY)


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the CRD's openAPIV3Schema, for every CRD kept."""
    schemas = {}
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def errors_of(doc: dict[str, Any]) -> Iterator[str]:
    """What is wrong with one resource, against its CRD or the Kubernetes schema."""
    crd = crd_schemas().get((doc["apiVersion"], doc["kind"]))
    if crd is not None:
        for error in jsonschema.Draft7Validator(crd).iter_errors(doc):
            yield f"{list(error.absolute_path)}: {error.message}"
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        yield f"{list(error.path)}: {error.message}"


def test_every_resource_is_valid_against_its_schema(rendered: list[dict[str, Any]]) -> None:
    kinds = {(doc["apiVersion"], doc["kind"]) for doc in rendered}
    assert {key for key in kinds if key in crd_schemas()} == {
        ("kafka.strimzi.io/v1", "Kafka"),
        ("kafka.strimzi.io/v1", "KafkaNodePool"),
        ("kafka.strimzi.io/v1", "KafkaTopic"),
        ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
    }, "the operators' resources are checked against their CRDs"
    wrong = {
        f"{doc['kind']}/{doc['metadata']['name']}": found
        for doc in rendered
        if (found := list(errors_of(doc)))
    }
    assert not wrong


def test_a_wrong_field_is_caught(rendered: list[dict[str, Any]]) -> None:
    """The validation is not vacuous: a misspelt field fails, built-in or custom."""
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    topic = next(d for d in rendered if d["kind"] == "KafkaTopic")
    bad_deployment = deployment | {"spec": deployment["spec"] | {"replica": 2}}
    bad_topic = topic | {"spec": topic["spec"] | {"partitions": "three"}}
    assert list(errors_of(bad_deployment)) and list(errors_of(bad_topic))


def test_the_generated_files_are_what_their_generators_make() -> None:
    assert (BASE / "services.yaml").read_text(encoding="utf-8") == kubernetes.render(), (
        "python -m tools.kubernetes > deploy/kubernetes/base/services.yaml"
    )
    assert (BASE / "kafka-topics.yaml").read_text(encoding="utf-8") == render_topics(
        Topics().specs()
    ), "python -m shared.topics strimzi > deploy/kubernetes/base/kafka-topics.yaml"


def test_each_service_is_probed_budgeted_scaled_and_runs_unprivileged(
    rendered: list[dict[str, Any]],
) -> None:
    workloads = of_kind(rendered, "Deployment") | of_kind(rendered, "StatefulSet")
    assert set(workloads) == set(SERVICES)
    assert of_kind(rendered, "StatefulSet").keys() == {"alarms"}, "journals on volumes"
    budgets, scalers = (
        of_kind(rendered, "PodDisruptionBudget"),
        of_kind(rendered, "HorizontalPodAutoscaler"),
    )
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert (
            pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
        )
        assert container["securityContext"]["readOnlyRootFilesystem"]
        assert container["image"] == "registry.bureau.invalid/safecampus:0.1.0", "the overlay's"
        assert budgets[name]["spec"]["minAvailable"] == 1
        assert scalers[name]["spec"]["minReplicas"] >= 2
        assert workload["spec"]["replicas"] >= scalers[name]["spec"]["minReplicas"]
        assert workload["metadata"]["namespace"] == "safecampus"
    assert workloads["notifications"]["spec"]["replicas"] == 3
    journal = workloads["alarms"]["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    (container,) = workloads["alarms"]["spec"]["template"]["spec"]["containers"]
    assert {"name": journal, "mountPath": kubernetes.JOURNAL_DIR} in container["volumeMounts"]


def test_secrets_are_files_and_the_database_url_comes_from_the_operator(
    rendered: list[dict[str, Any]],
) -> None:
    mongo = of_kind(rendered, "MongoDBCommunity")["safecampus-mongodb"]["spec"]
    (user,) = mongo["users"]
    assert user["connectionStringSecretName"] == kubernetes.MONGODB_URL
    assert {role["db"] for role in user["roles"]} == {f"safecampus_{name}" for name in SERVICES}
    assert mongo["members"] == 3 and mongo["security"]["authentication"]["modes"] == ["SCRAM"]
    from tools import compose_secrets

    made = set(compose_secrets.makers("http://x.invalid/", "p"))
    assert user["passwordSecretRef"]["key"] in made, "the secrets tool makes it"
    for workload in kubernetes.WORKLOADS:
        assert set(workload.secrets) <= made


def test_kafka_keeps_every_message_on_two_brokers_and_its_topics_are_declared(
    rendered: list[dict[str, Any]],
) -> None:
    kafka = of_kind(rendered, "Kafka")["safecampus"]["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2
    assert kafka["config"]["auto.create.topics.enable"] is False
    (pool,) = of_kind(rendered, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"controller", "broker"}
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind(rendered, "KafkaTopic").values()}
    assert set(topics) == {spec.name for spec in Topics().specs()}
    for spec in DECLARED:
        assert topics[spec.name]["partitions"] == spec.partitions
        assert topics[spec.name]["replicas"] == 3
        assert topics[spec.name]["config"]["min.insync.replicas"] == "2"
    config = of_kind(rendered, "ConfigMap")["safecampus-config"]["data"]
    assert config["KAFKA_BOOTSTRAP"].startswith("safecampus-kafka-bootstrap:")


def test_the_ingress_and_the_compose_proxy_route_alike(rendered: list[dict[str, Any]]) -> None:
    (ingress,) = of_kind(rendered, "Ingress").values()
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off", "live streams"
    paths = {
        p["backend"]["service"]["name"]: p["path"]
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    }
    assert paths == {name: kubernetes.ROUTES[name].removeprefix("^") for name in SERVICES}
    caddy = (ROOT / "deploy/proxy/Caddyfile").read_text(encoding="utf-8")
    assert dict(re.findall(r"^\s*@(\w+) path_regexp (\S+)$", caddy, re.M)) == kubernetes.ROUTES


def test_monitoring_and_network_policies_cover_every_service(
    rendered: list[dict[str, Any]],
) -> None:
    (monitor,) = of_kind(rendered, "ServiceMonitor").values()
    selected = monitor["spec"]["selector"]["matchExpressions"][0]["values"]
    assert set(selected) == set(SERVICES)
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    policies = of_kind(rendered, "NetworkPolicy")
    inbound = policies["safecampus-ingress"]["spec"]
    assert set(inbound["podSelector"]["matchExpressions"][0]["values"]) == set(SERVICES)
    outbound = policies["safecampus-egress"]["spec"]["egress"]
    ports = {port["port"] for rule in outbound for port in rule["ports"]}
    assert {53, 9092, 27017} <= ports
