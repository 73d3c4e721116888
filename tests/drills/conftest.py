"""Drills run against the fast two-region sandbox with the engine fixtures of the runbook tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drd.policy.loader import Config, load_config
from drd.settings import Settings
from tests.runbooks.engine.conftest import dr, engine, make_engine, primary, sandbox, settings, shipped, store

__all__ = ["dr", "engine", "make_engine", "primary", "sandbox", "settings", "shipped", "store"]

QUICK_DRILL = """
apiVersion: drd.dev/v1
kind: DrillPolicy
metadata: {{name: {name}}}
spec:
  backupPolicy: shop
  target: dr-west
  schedule: "@every 1h"
  objectives: {{rto: {rto}}}
  timeout: {timeout}
  isolation:
    scaleToZero: [CronJob/newsletter, Deployment/payment-webhook-consumer]
  verify:
{checks}
  teardown: {{keepFailedFor: {keep}}}
"""

DEFAULT_CHECKS = """\
    - {type: objectsPresent}
    - {type: workloadsReady, timeout: 20s}
    - {type: http, name: storefront-healthy, service: storefront, port: 80, path: /healthz}
"""


@pytest.fixture
def add_drill(settings: Settings) -> Callable[..., Config]:
    """Write one more DrillPolicy into the sandbox's config directory and return the reloaded config."""

    def add(
        name: str,
        *,
        checks: str = DEFAULT_CHECKS,
        rto: str = "2m",
        timeout: str = "4m",
        keep: str = "0s",
    ) -> Config:
        text = QUICK_DRILL.format(name=name, rto=rto, timeout=timeout, checks=checks.rstrip("\n"), keep=keep)
        Path(settings.config.directory, f"{name}.yaml").write_text(text)
        return load_config([settings.config.directory])

    return add
