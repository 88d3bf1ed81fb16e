"""docker-compose.yml is a valid Compose file and a deployment that comes up and scales: checked
against the Compose Specification's schema and for the properties it needs (no Docker engine
here to run it)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from services.alarms.settings import AlarmsSettings
from services.notifications.settings import NotificationsSettings
from services.patrols.settings import PatrolsSettings
from services.reporting.settings import ReportingSettings
from shared.settings import ROOT, Settings
from tools import compose_secrets, proxy
from tools.stack import SERVICES

SETTINGS: dict[str, type[Settings]] = {
    "alarms": AlarmsSettings,
    "patrols": PatrolsSettings,
    "notifications": NotificationsSettings,
    "reporting": ReportingSettings,
}
PORTS = {"alarms": 8001, "patrols": 8002, "notifications": 8003, "reporting": 8004}
SERVICE_USER = "10001"
CADDYFILE = ROOT / "deploy/proxy/Caddyfile"
LOOPBACK = "127.0.0.1:"


def load(path: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def test_the_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "schemas/compose/compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_schema_check_is_not_vacuous(compose: dict[str, Any]) -> None:
    schema = json.loads((ROOT / "schemas/compose/compose-spec.json").read_text(encoding="utf-8"))
    broken = compose | {"services": compose["services"] | {"alarms": {"replica": 2}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_the_services_scale_none_has_a_fixed_host_port_or_name(services: dict[str, Any]) -> None:
    for name in SERVICES:
        spec = services[name]
        assert "ports" not in spec and "container_name" not in spec, name
        assert spec["command"] == ["python", "-m", f"services.{name}"]
        assert spec["environment"]["SERVICE_PORT"] == str(PORTS[name])


def test_only_the_proxy_is_reachable_from_other_hosts(services: dict[str, Any]) -> None:
    published = {name: spec["ports"] for name, spec in services.items() if "ports" in spec}
    assert set(published) == {"proxy", "prometheus", "alertmanager", "grafana"}
    for name in ("prometheus", "alertmanager", "grafana"):
        assert all(port.startswith(LOOPBACK) for port in published[name]), name
    assert published["proxy"] == ["${PROXY_BIND:-127.0.0.1}:8080:8080"]


def test_the_services_run_as_the_images_user_and_write_only_to_volumes(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "--uid 10001" in dockerfile
    journal = re.search(r"JOURNAL_DIR=(\S+)", dockerfile)
    assert journal is not None
    for name in SERVICES:
        assert services[name]["user"] == f"{SERVICE_USER}:{SERVICE_USER}", name
    for name in SERVICES:
        county = services[name]["environment"]["COUNTY_FILE"]
        assert {"source": "county", "target": county} in services[name]["configs"], name
    assert compose["configs"]["county"]["file"] == "${SAFECAMPUS_COUNTY:-./deploy/county.yaml}"
    alarms = services["alarms"]
    assert alarms["environment"]["JOURNAL_DIR"] == journal.group(1)
    assert f"alarms-journal:{journal.group(1)}" in alarms["volumes"], "presses outlive the box"
    for name, spec in services.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in compose["volumes"], f"{name}: {source}"


def test_kafka_is_three_brokers_that_keep_every_message_twice(services: dict[str, Any]) -> None:
    brokers = {name: spec for name, spec in services.items() if name.startswith("kafka")}
    assert len(brokers) == 3
    voters = {f"{i}@kafka{i}:9093" for i in (1, 2, 3)}
    for name, spec in brokers.items():
        env = spec["environment"]
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert spec["volumes"] == [f"{name}-data:{env['KAFKA_LOG_DIRS']}"], "the log on a volume"
    assert len({spec["environment"]["KAFKA_NODE_ID"] for spec in brokers.values()}) == 3
    for name in SERVICES:
        env = services[name]["environment"]
        assert set(env["KAFKA_BOOTSTRAP"].split(",")) == {f"{b}:9092" for b in brokers}
        assert env["KAFKA_REPLICATION_FACTOR"] == "3"
        assert {f"kafka{i}" for i in (1, 2, 3)} <= set(services[name]["depends_on"])


def test_mongodb_is_a_replica_set_with_keyfile_authentication(services: dict[str, Any]) -> None:
    members = [services[f"mongo{i}"] for i in (1, 2, 3)]
    for spec in members:
        command = " ".join(spec["entrypoint"])
        assert "--replSet rs0" in command and "--keyFile /etc/mongo-keyfile" in command
        assert "-m 0400" in command, "mongod refuses a keyfile others may read"
        assert "mongo_keyfile" in spec["secrets"]
    first, *others = members
    assert first["environment"]["MONGO_INITDB_ROOT_PASSWORD_FILE"].startswith("/run/secrets/")
    assert all("environment" not in spec for spec in others), "rs.initiate takes empty members"
    init = services["mongo-init"]
    assert all(init["depends_on"][f"mongo{i}"]["condition"] == "service_healthy" for i in (1, 2))
    script = (ROOT / "deploy/mongo/init-replica-set.js").read_text(encoding="utf-8")
    assert "rs.initiate" in script and '"PRIMARY"' in script, "waits for a primary"
    assert all(f"safecampus_{name}" not in script for name in SERVICES), "derived from the names"
    assert "`safecampus_${s}`" in script
    for name in SERVICES:
        assert services[name]["depends_on"]["mongo-init"] == {
            "condition": "service_completed_successfully"
        }


def test_secrets_are_files_made_by_the_secrets_tool_and_read_as_settings(
    compose: dict[str, Any], services: dict[str, Any], tmp_path: Path
) -> None:
    declared = compose["secrets"]
    assert all(spec["file"] == f"./secrets/{name}" for name, spec in declared.items())
    assert "/secrets/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    used = {secret for spec in services.values() for secret in spec.get("secrets", [])}
    assert used == set(declared)
    assert set(declared) <= set(compose_secrets.write(tmp_path)), "the tool makes every one"
    assert all((tmp_path / name).stat().st_mode & 0o777 == 0o440 for name in declared)
    for name in SERVICES:
        env = services[name]["environment"]
        assert not any("SECRET" in key or "PASSWORD" in key for key in env), name
        fields = set(SETTINGS[name].model_fields)
        for secret in services[name]["secrets"]:
            assert secret in fields or secret == "users", f"{name} reads no setting {secret}"
    assert services["notifications"]["environment"]["USERS_FILE"] == "/run/secrets/users"
    assert services["reporting"]["environment"]["USERS_FILE"] == "/run/secrets/users"


def test_each_service_is_given_only_settings_it_reads(services: dict[str, Any]) -> None:
    for name in SERVICES:
        known = {field.upper() for field in SETTINGS[name].model_fields} | {"SERVICE_PORT"}
        env = services[name]["environment"]
        assert set(env) <= known, f"{name} does not read {set(env) - known}"
    outbound = services["notifications"]["environment"]
    assert {"WEBHOOK_URLS", "WEBHOOK_FORMATS", "SMS_GATEWAY_URL"} <= set(outbound)
    assert {"webhook_secret", "sms_gateway_token"} <= set(services["notifications"]["secrets"])


def test_every_container_rotates_its_logs_and_has_limits(services: dict[str, Any]) -> None:
    for name, spec in services.items():
        assert spec["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(spec["logging"]["options"]), name
        if name != "mongo-init":
            limits = spec["deploy"]["resources"]["limits"]
            assert limits["cpus"] and limits["memory"], name


def test_prometheus_finds_every_instance_and_alerts_reach_alertmanager(
    services: dict[str, Any],
) -> None:
    config = load("deploy/prometheus/prometheus.yml")
    (job,) = config["scrape_configs"]
    found = {sd["names"][0]: sd["port"] for sd in job["dns_sd_configs"]}
    assert found == PORTS
    targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    alertmanager = load("deploy/alertmanager/alertmanager.yml")
    (receiver,) = alertmanager["receivers"]
    assert receiver["webhook_configs"][0]["url_file"] == "/run/secrets/alert_webhook_url"
    assert "alert_webhook_url" in services["alertmanager"]["secrets"]
    rules = load("deploy/prometheus/alerts.yml")
    severities = {r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    routed = {m.split('"')[1] for r in alertmanager["route"]["routes"] for m in r["matchers"]}
    assert routed <= severities, "a route for a severity no alert has"


def test_alertmanager_itself_takes_its_configuration_and_routes_every_severity(
    tmp_path: Path,
) -> None:
    amtool = ROOT / ".local/bin/amtool"
    assert amtool.exists(), "make amtool"
    image = load("docker-compose.yml")["services"]["alertmanager"]["image"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"AMTOOL_VERSION := {image.split(':')[1]}\n" in makefile, "the image's version"
    config = ROOT / "deploy/alertmanager/alertmanager.yml"

    def amtool_says(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(amtool), *args], capture_output=True, text=True, check=False, timeout=30
        )

    checked = amtool_says("check-config", str(config))
    assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout
    rules = load("deploy/prometheus/alerts.yml")
    severities = {r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    for severity in sorted(severities):
        routed = amtool_says(
            "config", "routes", "test", f"--config.file={config}", f"severity={severity}"
        )
        assert routed.returncode == 0 and routed.stdout.strip() == "on-call", routed.stdout
    nowhere = tmp_path / "alertmanager.yml"
    nowhere.write_text(config.read_text(encoding="utf-8").replace("- name: on-call", "- name: x"))
    assert amtool_says("check-config", str(nowhere)).returncode != 0, "the check is not vacuous"


def test_caddy_itself_takes_the_proxy_configuration(tmp_path: Path) -> None:
    caddy = ROOT / ".local/bin/caddy"
    assert caddy.exists(), "make caddy"
    image = load("docker-compose.yml")["services"]["proxy"]["image"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"CADDY_VERSION := v{image.split(':')[1]}\n" in makefile, "the image's version"
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}

    def validate(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(caddy), "validate", "--adapter", "caddyfile", "--config", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )

    checked = validate(CADDYFILE)
    assert checked.returncode == 0 and "Valid configuration" in checked.stdout, checked.stderr
    misspelt = tmp_path / "Caddyfile"
    misspelt.write_text(CADDYFILE.read_text(encoding="utf-8").replace("flush_interval", "flush"))
    assert validate(misspelt).returncode != 0, "the check is not vacuous"


def test_the_local_proxy_is_the_compose_proxy_with_static_upstreams(tmp_path: Path) -> None:
    local = tmp_path / "Caddyfile"
    local.write_text(proxy.render({"alarms": [7001, 7002], "patrols": [7003]}, 7080))
    env = {k: str(tmp_path) for k in proxy.CADDY_HOMES}
    checked = subprocess.run(
        [str(proxy.CADDY), "validate", "--adapter", "caddyfile", "--config", str(local)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert checked.returncode == 0 and "Valid configuration" in checked.stdout, checked.stderr
    text = local.read_text(encoding="utf-8")
    matchers = re.compile(r"^\s*@\w+ path_regexp .+$", re.M)
    assert matchers.findall(text) == matchers.findall(CADDYFILE.read_text(encoding="utf-8"))
    assert ":7080 {" in text and "default_bind 127.0.0.1" in text
    assert "to 127.0.0.1:7001 127.0.0.1:7002" in text and "to 127.0.0.1:7003" in text
    assert "import instances" not in text


def caddy_routes() -> list[tuple[str, re.Pattern[str]]]:
    """The proxy's matchers in the order its route tries them."""
    text = (ROOT / "deploy/proxy/Caddyfile").read_text(encoding="utf-8")
    matchers = dict(re.findall(r"^\s*@(\w+) path_regexp (\S+)$", text, re.M))
    order = re.findall(r"^\s*reverse_proxy @(\w+) \{", text, re.M)
    assert set(order) == set(matchers) == set(SERVICES)
    for name in order:
        assert re.search(rf"import instances {name} {PORTS[name]}\n", text), name
    return [(name, re.compile(matchers[name])) for name in order]


def openapi_paths(service: str) -> list[str]:
    spec = json.loads((ROOT / f"docs/api/openapi-{service}.json").read_text(encoding="utf-8"))
    return [re.sub(r"\{[^}]+\}", "X-1", path) for path in spec["paths"]]


# Both services with pages answer these alike: sign-in, its script, the labels.
ANSWERED_ALIKE = ("/v1/auth/token", "/signin.js", "/labels.js", "/v1/labels")


def test_the_proxy_sends_each_path_to_its_service_and_never_the_ops_paths() -> None:
    routes = caddy_routes()

    def routed(path: str) -> str | None:
        return next((name for name, pattern in routes if pattern.fullmatch(path)), None)

    for service in SERVICES:
        for path in openapi_paths(service):
            if path in ("/healthz", "/readyz", "/metrics"):
                assert routed(path) is None, path
            elif path not in ANSWERED_ALIKE:
                assert routed(path) == service, f"{path} → {routed(path)}, not {service}"
    assert routed("/console") == "notifications"
    assert routed("/vendor/leaflet/leaflet.js") == "notifications", "the console's map library"
    for page in ("/dashboard", "/report"):
        assert routed(page) == "reporting", page
    for path in ANSWERED_ALIKE:
        assert routed(path) in ("notifications", "reporting"), path
    text = (ROOT / "deploy/proxy/Caddyfile").read_text(encoding="utf-8")
    assert "flush_interval -1" in text, "live streams are not buffered"
    assert "dynamic a {args[0]} {args[1]}" in text, "instances found again as they scale"
