"""Make the secret files docker-compose.yml mounts (./secrets/), once: random keys and
passwords, readable by the services' group (10001) and nobody else. Files already there are
kept, so running it again only adds what is missing.

    python -m tools.compose_secrets [--dir secrets] [--alert-webhook-url URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.settings import ROOT

SERVICES_GID = 10001  # the image's user (Dockerfile); Compose mounts secrets with host modes
MODE = 0o440
MONGO_USER = "safecampus"
MONGO_HOSTS = "mongo1:27017,mongo2:27017,mongo3:27017"
UNSET_WEBHOOK = "http://alert-webhook-url-not-set.invalid/"


def _token() -> str:
    return secrets.token_urlsafe(48)


def _keyfile() -> str:
    """A replica set's shared key: base64, 6 to 1024 characters (mongod's rule)."""
    return base64.b64encode(secrets.token_bytes(756)).decode()


def _mongodb_url(password: str) -> str:
    return (
        f"mongodb://{MONGO_USER}:{password}@{MONGO_HOSTS}/"
        "?replicaSet=rs0&authSource=admin&w=majority"
    )


def _services_password(directory: Path) -> str:
    """The services' database password: the one in an existing `mongodb_url`, else new."""
    url = directory / "mongodb_url"
    if url.exists():
        password = urlsplit(url.read_text(encoding="utf-8").strip()).password
        if password:
            return unquote(password)
    return secrets.token_urlsafe(32)


def makers(alert_webhook_url: str, mongodb_password: str) -> dict[str, Callable[[], str]]:
    """Each secret file by name, and how its content is made. `mongodb_url` is what Compose
    gives the services; `mongodb_password`, the same password, is what Kubernetes' MongoDB
    operator takes (deploy/kubernetes/base/mongodb.yaml)."""
    return {
        "jwt_secret": _token,
        "device_key_seed": lambda: secrets.token_hex(32),
        "pii_key": lambda: secrets.token_hex(32),  # keys the hash of identity numbers
        "webhook_secret": _token,
        "mongo_root_password": lambda: secrets.token_urlsafe(32),
        "mongo_keyfile": _keyfile,
        "mongodb_url": lambda: _mongodb_url(mongodb_password),
        "mongodb_password": lambda: mongodb_password,
        "grafana_admin_password": lambda: secrets.token_urlsafe(24),
        "alert_webhook_url": lambda: alert_webhook_url,
        "sms_gateway_token": lambda: "",  # the gateway's own token, if SMS_GATEWAY_URL is set
        "users": lambda: "users: []",  # who may sign in: `safecampus users add`
    }


def write(directory: Path, *, alert_webhook_url: str = UNSET_WEBHOOK) -> list[str]:
    """The missing secret files, made; returns their names."""
    directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    made = []
    for name, make in makers(alert_webhook_url, _services_password(directory)).items():
        path = directory / name
        if path.exists():
            continue
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(make() + "\n")
        if os.geteuid() == 0:
            os.chown(path, 0, SERVICES_GID)
        made.append(name)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "secrets")
    parser.add_argument(
        "--alert-webhook-url", default=UNSET_WEBHOOK, help="where Alertmanager sends alerts"
    )
    args = parser.parse_args()
    made = write(args.dir, alert_webhook_url=args.alert_webhook_url)
    print(f"{args.dir}: made {', '.join(made) if made else 'nothing (all there)'}")
    if os.geteuid() != 0:
        print(f"as root: chgrp {SERVICES_GID} {args.dir}/* (the services read them as that group)")
    print(f"who may sign in: USERS_FILE={args.dir}/users safecampus users add NAME --role …")
    if (args.dir / "alert_webhook_url").read_text().strip() == UNSET_WEBHOOK:
        print(f"alerts go nowhere until {args.dir}/alert_webhook_url names the on-call webhook")


if __name__ == "__main__":
    main()
