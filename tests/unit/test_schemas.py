"""The published schemas in schemas/ are kept as published: each is listed in schemas/README.md
with its source, terms and checksum, and matches that checksum."""

from __future__ import annotations

import hashlib
import re

from shared.settings import ROOT

SCHEMAS = ROOT / "schemas"


def listed() -> dict[str, str]:
    """File → sha256, from the README's table."""
    text = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", text, re.M))


def test_every_schema_kept_is_listed_with_its_checksum_and_matches_it() -> None:
    kept = {
        str(path.relative_to(SCHEMAS))
        for path in SCHEMAS.rglob("*")
        if path.is_file() and path.name != "README.md"
    }
    table = listed()
    assert kept == set(table), "each file in schemas/ has its row in schemas/README.md"
    for path, digest in table.items():
        assert hashlib.sha256((SCHEMAS / path).read_bytes()).hexdigest() == digest, path
