"""Helpers for the store's tests: the time the clock starts at, a manual clock, and a run builder."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from drd.store import Store
from drd.store.records import RunRecord
from tests.support.clocks import ManualClock

__all__ = ["T0", "ManualClock", "a_run"]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""Where every test's clock starts."""


def a_run(store: Store, **overrides: Any) -> RunRecord:
    """Create a run with sensible defaults (a scheduled drill of ``shop``); keywords override them."""
    fields: dict[str, Any] = {"kind": "drill", "subject": "shop", "trigger": "schedule", "parameters": {}}
    return store.create_run(**(fields | overrides))
