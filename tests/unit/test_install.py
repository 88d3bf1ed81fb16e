"""Reproducible installs: the locks hold every pinned dependency of pyproject.toml with the
hashes of its files, and the image installs them before the code, as a user who can write
where the services write."""

from __future__ import annotations

import re
import tomllib

from shared.settings import ROOT

LOCKED = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", re.M)


def locked(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    return {package.lower().replace("_", "-"): version for package, version in LOCKED.findall(text)}


def pins(requirements: list[str]) -> dict[str, str]:
    found = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", requirement)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(3)
    return found


def test_the_locks_hold_every_pin_of_pyproject_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = pins(project["dependencies"])
    extras = pins([r for group in project["optional-dependencies"].values() for r in group])
    assert runtime.items() <= locked("requirements.lock").items(), "make lock"
    assert (runtime | extras).items() <= locked("requirements-dev.lock").items(), "make lock"
    for name in ("requirements.lock", "requirements-dev.lock"):
        entries = (ROOT / name).read_text(encoding="utf-8").split("\n\n")
        packages = [e for e in entries if LOCKED.search(e)]
        assert packages and all("--hash=sha256:" in e for e in packages), name
        assert "--find-links" not in (ROOT / name).read_text(), "nothing of this machine"


def test_the_image_installs_the_lock_before_the_code_as_a_user_who_can_write_the_journal() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", b) for b in bases)
    text = "\n".join(lines)
    assert text.index("--require-hashes -r /tmp/requirements.lock") < text.index("COPY services")
    user = next(line.split()[1] for line in lines if line.startswith("USER "))
    assert user not in ("root", "0")
    journal = re.search(r"JOURNAL_DIR=(\S+)", text)
    assert journal is not None
    assert f"mkdir -p {journal.group(1)}" in text
    assert re.search(rf"chown -R {user} {journal.group(1).rsplit('/', 1)[0]}\b", text)
    assert "COPY schemas ./schemas" in text, "the exports validate against them"
