"""The four services' Kubernetes workloads, rendered from one description so they cannot drift
apart (ports, probes, security, the secrets volume, which paths go where):

    python -m tools.kubernetes > deploy/kubernetes/base/services.yaml

Per service: a Deployment (alarms: a StatefulSet, each instance's press journal on a volume
of its own), its Service, a PodDisruptionBudget and a HorizontalPodAutoscaler; then the
Ingress. A test holds the file to this module. The rest of deploy/kubernetes/ is written by
hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

IMAGE = "safecampus:latest"  # the overlay names the registry and the tag
CONFIG = "safecampus-config"  # ConfigMap: settings every service reads (config.yaml)
SECRETS = "safecampus-secrets"  # Secret the bureau makes from ./secrets (docs/deploy.md)
COUNTY = "safecampus-county"  # ConfigMap the bureau makes from its provisioning file
MONGODB_URL = "safecampus-mongodb-url"  # made by the MongoDB operator (mongodb.yaml)
JOURNAL_DIR = "/var/lib/safecampus/journal"  # the Dockerfile's
PART_OF = {"app.kubernetes.io/part-of": "safecampus"}
HEADLESS = {"safecampus/headless": "true"}  # not scraped twice (monitoring.yaml)
# Which paths each service answers, for the Ingress and the Compose proxy (deploy/proxy/
# Caddyfile: a test holds it to these); /metrics, /healthz and /readyz are not routed.
ROUTES = {
    "alarms": r"^/v1/(alarms(/.*)?|commands/[^/]+|devices|devices/[^/]+/heartbeat"
    r"|live-tests(/.*)?)$",
    "notifications": r"^/(console|terminal|vendor/leaflet/[^/]+|v1/auth/token|v1/dispatcher/.+"
    r"|v1/devices/[^/]+/messages"
    r"|v1/units/[^/]+/orders(/.*)?)$",
    "patrols": r"^/v1/(audit/person-reads|calendar|campaigns(/.*)?|community-checks(/.*)?"
    r"|hazards(/.*)?|roster|video-checks|violations"
    r"|points(/[^/]+/(checkins|visits))?"
    r"|posts/today|schools/[^/]+/(plan(/versions)?|visitors(/[^/]+/out)?)"
    r"|units/[^/]+(/(checkins|duty|positions|roster|status|violations))?)$",
    # the pages' shared scripts and labels are answered alike by notifications and reporting
    "reporting": r"^/(bulletin|dashboard|labels\.js|report|signin\.js|v1/activities|v1/labels"
    r"|v1/reports/.+)$",
}


@dataclass(frozen=True)
class Workload:
    name: str
    port: int
    secrets: tuple[str, ...]
    min_replicas: int = 2
    max_replicas: int = 6
    cpu: str = "250m"
    memory: str = "256Mi"
    signs_in: bool = False


WORKLOADS = (
    Workload("alarms", 8001, ("jwt_secret", "device_key_seed"), max_replicas=3),
    Workload("patrols", 8002, ("jwt_secret", "pii_key"), max_replicas=8, cpu="500m"),
    Workload(
        "notifications",
        8003,
        ("jwt_secret", "device_key_seed", "webhook_secret", "sms_gateway_token", "users"),
        signs_in=True,
    ),
    Workload("reporting", 8004, ("jwt_secret", "users"), max_replicas=4, signs_in=True),
)


def labels(w: Workload) -> dict[str, str]:
    return {"app.kubernetes.io/name": w.name, **PART_OF}


def secrets_volume(w: Workload) -> dict[str, Any]:
    """/run/secrets as the services read it: one file per setting (shared/settings.py), the
    database URL from the operator's Secret."""
    return {
        "name": "secrets",
        "projected": {
            "defaultMode": 0o440,
            "sources": [
                {
                    "secret": {
                        "name": SECRETS,
                        "items": [{"key": key, "path": key} for key in w.secrets],
                    }
                },
                {
                    "secret": {
                        "name": MONGODB_URL,
                        "items": [{"key": "connectionString.standard", "path": "mongodb_url"}],
                    }
                },
            ],
        },
    }


def probe(path: str, w: Workload, *, period_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period_s,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def container(w: Workload) -> dict[str, Any]:
    env = [
        {"name": "SERVICE_PORT", "value": str(w.port)},
        {"name": f"{w.name.upper()}_PORT", "value": str(w.port)},
    ]
    if w.signs_in:
        env.append({"name": "USERS_FILE", "value": "/run/secrets/users"})
    mounts = [
        {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True},
        {"name": "county", "mountPath": "/etc/safecampus", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir: the root is read-only
    ]
    if w.name == "alarms":
        env.append({"name": "JOURNAL_DIR", "value": JOURNAL_DIR})
        mounts.append({"name": "journal", "mountPath": JOURNAL_DIR})
    return {
        "name": w.name,
        "image": IMAGE,
        "command": ["python", "-m", f"services.{w.name}"],
        "ports": [{"name": "http", "containerPort": w.port}],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env,
        "volumeMounts": mounts,
        "startupProbe": probe("/healthz", w, period_s=2, failures=60),
        "livenessProbe": probe("/healthz", w, period_s=10, failures=3),
        "readinessProbe": probe("/readyz", w, period_s=5, failures=2),
        "resources": {
            "requests": {"cpu": w.cpu, "memory": w.memory},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def pod_template(w: Workload) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels(w)},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "terminationGracePeriodSeconds": 30,
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": labels(w)},
                }
            ],
            "containers": [container(w)],
            "volumes": [
                secrets_volume(w),
                {"name": "county", "configMap": {"name": COUNTY}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
            ],
        },
    }


def workload(w: Workload) -> dict[str, Any]:
    """A Deployment; for alarms a StatefulSet whose every instance has a journal volume that
    it finds again when it comes back (presses journaled while the broker was away)."""
    meta = {"name": w.name, "labels": labels(w)}
    spec: dict[str, Any] = {
        "replicas": w.min_replicas,
        "selector": {"matchLabels": labels(w)},
        "template": pod_template(w),
    }
    if w.name != "alarms":
        spec["strategy"] = {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
    spec |= {
        "serviceName": f"{w.name}-pods",
        "podManagementPolicy": "Parallel",
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "journal"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    }
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": spec}


def services(w: Workload) -> list[dict[str, Any]]:
    port = {"name": "http", "port": w.port, "targetPort": "http"}
    found = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": w.name, "labels": labels(w)},
            "spec": {"selector": labels(w), "ports": [port]},
        }
    ]
    if w.name == "alarms":  # the StatefulSet's own, naming each instance
        found.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"{w.name}-pods", "labels": labels(w) | HEADLESS},
                "spec": {"clusterIP": "None", "selector": labels(w), "ports": [port]},
            }
        )
    return found


def disruption_budget(w: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": labels(w)}},
    }


def autoscaler(w: Workload) -> dict[str, Any]:
    kind = "StatefulSet" if w.name == "alarms" else "Deployment"
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": w.name, "labels": labels(w)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": w.name},
            "minReplicas": w.min_replicas,
            "maxReplicas": w.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
            # scale down slowly: a stream moved to another instance reconnects (Last-Event-ID)
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def ingress() -> dict[str, Any]:
    """One way in, as the Compose proxy: each service's paths to its Service, live streams
    unbuffered (ingress-nginx; its regular expressions are anchored at the start for us)."""
    paths = [
        {
            "path": ROUTES[w.name].removeprefix("^"),
            "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": w.name, "port": {"name": "http"}}},
        }
        for w in WORKLOADS
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "safecampus",
            "annotations": {
                "nginx.ingress.kubernetes.io/use-regex": "true",
                "nginx.ingress.kubernetes.io/proxy-buffering": "off",
                "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
                "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
            },
        },
        "spec": {"ingressClassName": "nginx", "rules": [{"http": {"paths": paths}}]},
    }


def render() -> str:
    documents = [
        document
        for w in WORKLOADS
        for document in (workload(w), *services(w), disruption_budget(w), autoscaler(w))
    ] + [ingress()]
    header = (
        "# Generated by `python -m tools.kubernetes` (tools/kubernetes.py): edit that, not this.\n"
    )
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


if __name__ == "__main__":
    print(render(), end="")
