"""No secret value reaches any output: a rotation's values are searched for in everything drd wrote.

One rotation runs through the CLI (``drd -vv rotate run``, debug logs included) and a second one fails its
verification and rolls back (its discarded value captured while it was pending). Both values are then looked
for in the CLI's stdout and stderr, ``drd rotate status -o json``, ``drd runbook show RUN -o json`` for each
run, the metrics exposition once both are counted, every row of every table of drd's store, and the
notifications sent. Only Vault and the delivered Secrets may hold them.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from drd.cli.main import main
from drd.clients.vault import VaultClient
from drd.clock import SystemClock
from drd.daemon.rotation_recorder import finish_rotation
from drd.metrics import Metrics
from drd.operations.notify import Notifier
from drd.policy.loader import load_config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import start_rotation
from drd.rotation.steps import pending_path
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox
from drd.settings import Settings
from drd.store import Store
from tests.rotation.support import a_policy, make_engine, store, vault, vaulted, vaulted_settings
from tests.support.daemons import Webhook
from tests.support.hooks import at_step

__all__ = ["make_engine", "store", "vault", "vaulted"]
PATH = "drd/shop/shop-api-token"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def settings(vaulted: Sandbox, tmp_path: Path, webhook: Webhook) -> Settings:
    from dataclasses import replace

    from drd.settings import Secret

    base = vaulted_settings(vaulted, tmp_path)
    return replace(base, notify=replace(base.notify, webhook_url=Secret(webhook.url)))


def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *argv: str) -> str:
    """Run ``drd`` in-process over the sandbox; stdout and stderr together."""
    monkeypatch.setenv("DRD_CONFIG", settings.config.directory)
    monkeypatch.setenv("KUBECONFIG", settings.kube.kubeconfig or "")
    monkeypatch.setenv("DRD_STATE", settings.store.url)
    monkeypatch.setenv("VAULT_ADDR", settings.vault.addr)
    monkeypatch.setenv("VAULT_TOKEN", settings.vault.token.value)
    monkeypatch.setenv("DRD_WEBHOOK_URL", settings.notify.webhook_url.value)
    monkeypatch.setenv("DRD_ACTOR", "carol@test")
    out, err = io.StringIO(), io.StringIO()
    main(list(argv), stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def store_dump(url: str) -> str:
    """Every row of every table of the SQLite store, as text."""
    with sqlite3.connect(url) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"'))


def test_no_rotated_value_appears_in_any_output(
    settings: Settings,
    vault: VaultClient,
    store: Store,
    make_engine: Callable[..., Engine],
    webhook: Webhook,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The promoted value and a rolled-back value appear in no CLI output, store row or notification."""
    a_policy(settings)
    outputs = [cli(settings, monkeypatch, "-vv", "rotate", "run", "shop-api-token")]
    assert "succeeded" in outputs[0]
    promoted = str(vault.read_kv(PATH).data["value"])

    a_policy(settings, verify=[{"type": "http", "service": "no-such-service", "port": 80, "timeout": "2s"}])
    config = load_config([settings.config.directory])
    policy = config.of_kind(RotationPolicy)["shop-api-token"]
    discarded: list[str] = []

    def capture() -> None:
        discarded.append(str(vault.read_kv(pending_path(policy)).data["value"]))

    engine = make_engine(crash=at_step("after-finish", "create", capture))
    failed = start_rotation(engine, config, policy, trigger="test")
    engine.execute(failed.id)
    notifier = Notifier(webhook_url=webhook.url, clock=SystemClock(), min_interval_seconds=0)
    finish_rotation(store, failed.id, notifier=notifier)
    outputs.append(cli(settings, monkeypatch, "-vv", "rotate", "status", "-o", "json"))
    for run in store.list_runs(kind="rotation"):
        outputs.append(cli(settings, monkeypatch, "runbook", "show", run.id, "-o", "json"))
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    for run in store.list_runs(kind="rotation"):
        finish_rotation(store, run.id, metrics=metrics)
    outputs.append(generate_latest(registry).decode())
    outputs.append(store_dump(settings.store.url))
    outputs.append(json.dumps(webhook.received))

    assert discarded
    assert promoted != discarded[0]
    assert webhook.received  # the rolled-back rotation was announced
    everything = "\n".join(outputs)
    for value in (promoted, discarded[0]):
        assert value not in everything
