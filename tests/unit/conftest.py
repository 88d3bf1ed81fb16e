"""Unit-test fixtures: the sample county and fakes (no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shared.provisioning import County, load_county
from shared.settings import ROOT


@pytest.fixture(scope="session")
def county() -> County:
    return load_county(Path(ROOT / "deploy" / "county.yaml"))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()
