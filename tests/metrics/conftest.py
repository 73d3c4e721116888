"""Fixtures for the metrics tests: a fresh registry per test, a manual clock, Metrics wired to both."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from drd.metrics import Metrics
from tests.store.support import T0, ManualClock


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def metrics(registry: CollectorRegistry, clock: ManualClock) -> Metrics:
    return Metrics(registry, clock=clock, version="1.2.3")
