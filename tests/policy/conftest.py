"""Fixtures for policy tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .builders import an_inventory, write


@pytest.fixture
def policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``policies/`` (relative, as a user would type it) holding the inventory in clusters.yaml."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "policies", "clusters.yaml", *an_inventory())
    return Path("policies")
