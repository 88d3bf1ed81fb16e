"""People who sign in (dispatchers, supervisors, admins, and the officers of a unit on its
terminal, under the unit's id): a YAML file of users with roles and
argon2id password hashes, kept out of the repository (USERS_FILE, default .local/users.yaml).

    safecampus users add NAME --role dispatcher     (asks for the password)

Hashes are argon2id with argon2-cffi's defaults (RFC 9106's second recommended profile:
3 passes over 64 MiB, 4 lanes). A hash made with weaker settings, or with the scrypt scheme
this file used before, is replaced on the user's next sign-in.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import logging
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import get_args

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.auth import Principal, Role

log = logging.getLogger(__name__)

# a unit's user name is its unit id (U007): a unit acts only as itself
SIGN_IN_ROLES: tuple[Role, ...] = ("dispatcher", "supervisor", "admin", "unit", "school")


HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`."""
    return HASHER.hash(password)


@dataclass(frozen=True)
class Checked:
    """A password checked against a stored hash; `rehash` is the hash to store instead when
    the stored one is of an older scheme or weaker settings."""

    ok: bool
    rehash: str | None = None


def check_password(password: str, stored: str) -> Checked:
    """CPU-bound (about 0.1 s): call it off the event loop."""
    if stored.startswith("scrypt$"):
        ok = _scrypt_matches(password, stored)
        return Checked(ok, hash_password(password) if ok else None)
    try:
        HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return Checked(False)
    return Checked(True, hash_password(password) if HASHER.check_needs_rehash(stored) else None)


def _scrypt_matches(password: str, stored: str) -> bool:
    """The scheme before argon2id: `scrypt$<salt hex>$<hash hex>`, N=2^14, r=8, p=1."""
    _, salt_hex, digest_hex = [*stored.split("$"), "", ""][:3]
    try:
        salt, digest = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex)
    except ValueError:
        return False
    computed = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return bool(salt) and hmac.compare_digest(computed, digest)


@cache
def _decoy() -> str:
    """Checked against when the user is unknown, so a wrong name costs as long as a wrong
    password."""
    return hash_password("decoy password")


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    password: str


class UserDirectory:
    def __init__(self, users: dict[str, User], path: Path | None = None) -> None:
        self._users = users
        self._path = path
        self._saving = threading.Lock()

    @classmethod
    def load(cls, path: Path) -> UserDirectory:
        """The users in `path`; none (nobody can sign in) when it does not exist."""
        if not path.exists():
            return cls({}, path)
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        users = {}
        for entry in raw.get("users", []):
            role = entry["role"]
            if role not in get_args(Role):
                raise ValueError(f"{path}: user {entry['username']!r} has unknown role {role!r}")
            users[entry["username"]] = User(entry["username"], role, entry["password"])
        return cls(users, path)

    def verify(self, username: str, password: str) -> Principal | None:
        """The user, if the password is theirs; roles that do not sign in here are refused.
        CPU-bound: call it off the event loop. A hash of an older scheme is replaced."""
        user = self._users.get(username)
        checked = check_password(password, user.password if user else _decoy())
        if user is None or not checked.ok:
            return None
        if checked.rehash is not None:
            self._rehash(user, checked.rehash)
        if user.role not in SIGN_IN_ROLES:
            return None
        return Principal(sub=user.username, role=user.role)

    def _rehash(self, user: User, new_hash: str) -> None:
        """Use the new hash from now on, and store it when the file may be written (a file
        mounted read-only keeps the old hash, which still works: logged, not an error)."""
        self._users[user.username] = User(user.username, user.role, new_hash)
        if self._path is None:
            return
        with self._saving:
            try:
                replace_hash(self._path, user.username, new_hash)
            except OSError as exc:
                log.warning(
                    "password rehashed but not saved",
                    extra={"username": user.username, "error": repr(exc)},
                )

    def __len__(self) -> int:
        return len(self._users)


def add_user(path: Path, username: str, role: Role, password: str) -> None:
    """Add or replace a user in the file (created with mode 600)."""
    users = [u for u in _entries(path) if u["username"] != username]
    users.append({"username": username, "role": role, "password": hash_password(password)})
    _write_entries(path, users)


def replace_hash(path: Path, username: str, new_hash: str) -> None:
    """Store a user's new password hash, leaving everything else as it is."""
    users = [u | {"password": new_hash} if u["username"] == username else u for u in _entries(path)]
    _write_entries(path, users)


def _entries(path: Path) -> list[dict[str, str]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    return list((raw or {}).get("users", []))


def _write_entries(path: Path, users: list[dict[str, str]]) -> None:
    """Written whole to a file beside it, then renamed over it: a reader (another service
    loading the users) sees the old file or the new one, never half of one. A new file is
    mode 600; a file replaced keeps its mode and group (a Compose secret is made readable by
    the services' group: tools/compose_secrets.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"users": users}, sort_keys=False)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _keep_access(path, Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _keep_access(path: Path, replacement: Path) -> None:
    """The replacement readable by whom `path` was (mode 600 when there is none)."""
    if not path.exists():
        os.chmod(replacement, 0o600)
        return
    held = path.stat()
    os.chmod(replacement, held.st_mode & 0o777)
    if held.st_gid != replacement.stat().st_gid:
        try:
            os.chown(replacement, -1, held.st_gid)
        except PermissionError:
            log.warning(
                "the users file's group could not be kept: the services may not read it",
                extra={"path": str(path), "group": held.st_gid},
            )


def main(argv: list[str] | None = None) -> None:
    from shared.settings import SignInSettings

    parser = argparse.ArgumentParser(
        prog="safecampus users", description="Manage the users who sign in"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add or replace a user")
    add.add_argument("username")
    add.add_argument("--role", choices=SIGN_IN_ROLES, required=True)
    args = parser.parse_args(argv)
    password = getpass.getpass(f"password for {args.username}: ")
    if len(password) < 12:
        sys.exit("a password has at least 12 characters")
    path = SignInSettings().users_file
    add_user(path, args.username, args.role, password)
    print(f"{args.username} ({args.role}) saved in {path}")


if __name__ == "__main__":
    main()
