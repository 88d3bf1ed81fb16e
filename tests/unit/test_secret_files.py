"""Secrets as files, as Compose and Kubernetes give them: settings read /run/secrets/<setting>
(SECRETS_DIR), and the users file keeps who may read it when it is rewritten."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.notifications.settings import NotificationsSettings
from shared.settings import Settings
from shared.users import UserDirectory, add_user

SERVICES_GID = 10001


def test_a_setting_is_read_from_its_secret_file_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jwt_secret").write_text("k" * 40 + "\n", encoding="utf-8")
    (tmp_path / "mongodb_url").write_text("mongodb://u:p@db1/?replicaSet=rs0\n", encoding="utf-8")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("MONGODB_URL", raising=False)
    settings = Settings()
    assert settings.require_jwt_secret() == "k" * 40, "read from its file, stripped"
    assert settings.mongodb_url == "mongodb://u:p@db1/?replicaSet=rs0"
    monkeypatch.setenv("MONGODB_URL", "mongodb://from-the-environment/")
    assert Settings().mongodb_url == "mongodb://from-the-environment/"


def test_an_empty_variable_is_unset_and_no_secrets_folder_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("SMS_GATEWAY_URL", "")  # what Compose's ${SMS_GATEWAY_URL:-} gives
    assert NotificationsSettings().sms_gateway_url is None


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another group needs root")
def test_the_users_file_keeps_its_mode_and_group_when_a_user_is_added(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("users: []\n", encoding="utf-8")
    os.chown(users, -1, SERVICES_GID)
    users.chmod(0o440)
    add_user(users, "zhang", "dispatcher", "a-long-password-1")
    held = users.stat()
    assert (held.st_mode & 0o777, held.st_gid) == (0o440, SERVICES_GID)
    assert len(UserDirectory.load(users)) == 1


def test_a_new_users_file_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    users = tmp_path / "users"
    add_user(users, "zhang", "dispatcher", "a-long-password-1")
    assert users.stat().st_mode & 0o777 == 0o600
