"""A stage's metric gate against a real Prometheus: pass lets the plan finish, fail halts, no verdict pauses.

Aspects covered: every sample within passIf completes the stage; a sample meeting failIf halts the plan naming
the gate; a value between the thresholds is inconclusive, which pauses the plan for an operator (never a pass),
and with ``onInconclusive: fail`` halts it instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drd.sandbox.environment import Sandbox
from drd.settings import Settings
from drd.upgrades import run as upgrade_run
from drd.upgrades.progress import PlanPhase
from tests.observability.prometheus import BINARY, Prometheus
from tests.upgrades.fleet_support import a_plan, fleet, fleet_settings, make_driver, store

__all__ = ["fleet", "make_driver", "store"]

pytestmark = pytest.mark.skipif(
    BINARY is None, reason="prometheus not installed (Debian package `prometheus`; .ci/run installs it)"
)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus with nothing to scrape: the gates' queries are constant expressions."""
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), [], [])
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def settings(fleet: Sandbox, tmp_path: Path, prometheus: Prometheus) -> Settings:
    """The fleet's settings, with the Prometheus the gates query."""
    base = fleet_settings(fleet, tmp_path)
    return replace(base, prometheus=replace(base.prometheus, url=prometheus.url))


def gated(settings: Settings, value: float, **gate: Any) -> None:
    """Only the canary stage, gated on a query that always answers ``value``."""
    metric = {
        "type": "metric",
        "name": "errors",
        "query": f"vector({value})",
        "passIf": "<= 0.01",
        "failIf": "> 0.05",
        "samples": 2,
        "interval": "1s",
    } | gate
    a_plan(settings, stages=[{"name": "canary", "clusters": {"role": "canary"}, "gates": [metric]}])


def test_a_metric_within_pass_if_completes_the_stage(
    settings: Settings, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """Every sample at 0.001 (passIf <= 0.01): the plan is done."""
    gated(settings, 0.001)
    final = make_driver().drive()
    assert final.phase is PlanPhase.DONE, final.reason


def test_a_metric_meeting_fail_if_halts(
    settings: Settings, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """A sample at 0.2 (failIf > 0.05) halts the plan at the gate."""
    gated(settings, 0.2)
    final = make_driver().drive()
    assert final.phase is PlanPhase.HALTED
    assert "errors" in final.reason
    assert "failed" in final.reason


def test_an_inconclusive_metric_pauses_for_an_operator(
    settings: Settings, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """0.03 is neither a pass nor a failure: the plan waits for an operator, never passes."""
    gated(settings, 0.03)
    final = make_driver().drive()
    assert final.phase is PlanPhase.WAITING
    assert "errors-conclusive" in final.reason


def test_an_inconclusive_metric_halts_when_the_plan_says_fail(
    settings: Settings, make_driver: Callable[..., upgrade_run.UpgradeDriver]
) -> None:
    """With onInconclusive: fail, the same value halts the plan."""
    gated(settings, 0.03, onInconclusive="fail")
    final = make_driver().drive()
    assert final.phase is PlanPhase.HALTED
    assert "inconclusive" in final.reason
