"""People who sign in (dispatchers, supervisors, admins): a YAML file of users with roles and
scrypt password hashes, kept out of the repository (USERS_FILE, default .local/users.yaml).

    python -m shared.users add NAME --role dispatcher     (asks for the password)
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import yaml

from shared.auth import Principal, Role

SIGN_IN_ROLES: tuple[Role, ...] = ("dispatcher", "supervisor", "admin")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$<salt hex>$<hash hex>`."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if scheme != "scrypt" or not salt_hex or not digest_hex:
        return False
    expected = hash_password(password, salt=bytes.fromhex(salt_hex))
    return hmac.compare_digest(expected, stored)


# Compared against when the user is unknown, so a wrong name costs as long as a wrong password.
_DECOY = hash_password("decoy", salt=b"\0" * 16)


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    password: str


class UserDirectory:
    def __init__(self, users: dict[str, User]) -> None:
        self._users = users

    @classmethod
    def load(cls, path: Path) -> UserDirectory:
        """The users in `path`; none (nobody can sign in) when it does not exist."""
        if not path.exists():
            return cls({})
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        users = {}
        for entry in raw.get("users", []):
            role = entry["role"]
            if role not in get_args(Role):
                raise ValueError(f"{path}: user {entry['username']!r} has unknown role {role!r}")
            users[entry["username"]] = User(entry["username"], role, entry["password"])
        return cls(users)

    def verify(self, username: str, password: str) -> Principal | None:
        """The user, if the password is theirs; roles that do not sign in here are refused."""
        user = self._users.get(username)
        if not password_matches(password, user.password if user else _DECOY) or user is None:
            return None
        if user.role not in SIGN_IN_ROLES:
            return None
        return Principal(sub=user.username, role=user.role)

    def __len__(self) -> int:
        return len(self._users)


def add_user(path: Path, username: str, role: Role, password: str) -> None:
    """Add or replace a user in the file (created with mode 600)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    users = [u for u in (raw or {}).get("users", []) if u["username"] != username]
    users.append({"username": username, "role": role, "password": hash_password(password)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(yaml.safe_dump({"users": users}, sort_keys=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    from shared.settings import Settings

    parser = argparse.ArgumentParser(description="Manage the users who sign in")
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add or replace a user")
    add.add_argument("username")
    add.add_argument("--role", choices=SIGN_IN_ROLES, required=True)
    args = parser.parse_args(argv)
    password = getpass.getpass(f"password for {args.username}: ")
    if len(password) < 12:
        sys.exit("a password has at least 12 characters")
    path = Settings().users_file
    add_user(path, args.username, args.role, password)
    print(f"{args.username} ({args.role}) saved in {path}")


if __name__ == "__main__":
    main()
