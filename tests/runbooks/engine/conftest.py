"""Fixtures for the runbook engine: a sandbox, its configuration, a SQLite store and an engine over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.policy.loader import load_config
from drd.runbooks.assembly import Assembly, assemble
from drd.runbooks.engine.runner import Engine
from drd.runbooks.spec.loader import load_runbook_text, load_runbooks
from drd.runbooks.spec.models import Runbook
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.settings import Settings
from drd.store import Store, open_store
from tests.sandbox.fixtures import dr, primary, sandbox
from tests.sandbox.velero.support import create, finished

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
__all__ = ["dr", "primary", "sandbox"]

REQUESTER = "alice@test"
APPROVER = "bob@test"


@pytest.fixture
def settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    """Settings pointing at the sandbox's kubeconfig and config directory."""
    paths = write_files(sandbox, tmp_path / "sb")
    base = Settings.from_env({})
    return replace(
        base,
        config=replace(base.config, directory=str(paths["config"]), runbooks=str(RUNBOOKS)),
        kube=replace(base.kube, kubeconfig=str(paths["kubeconfig"])),
        store=replace(base.store, url=str(tmp_path / "drd.sqlite")),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with open_store(settings.store.url) as opened:
        yield opened


@pytest.fixture
def make_engine(settings: Settings, store: Store) -> Iterator[Callable[..., Engine]]:
    """Build engines over the sandbox (a fresh one stands for a restarted drd)."""
    built: list[Assembly] = []

    def build(**options: Any) -> Engine:
        config = options.pop("config", None) or load_config([settings.config.directory])
        assembly = assemble(settings, config, store, identity=options.pop("identity", REQUESTER), **options)
        built.append(assembly)
        return assembly.engine

    yield build
    for assembly in built:
        assembly.close()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine(executor="test-executor")


@pytest.fixture
def shipped() -> dict[str, Runbook]:
    """The runbooks in the repository's runbooks/ directory."""
    return dict(load_runbooks([RUNBOOKS]).runbooks)


def runbook(text: str) -> Runbook:
    """A runbook from YAML text."""
    return load_runbook_text(text)


def policy_backup(kube: KubeClient, name: str, policy: str = "shop", namespaces: tuple[str, ...] = ("shop",)) -> dict:
    """A Completed Backup as drd's Schedules make them (labelled with the policy), in the primary."""
    labels = {"drd.dev/policy": policy, "app.kubernetes.io/managed-by": "drd"}
    create(kube, _backups(), name, {"includedNamespaces": list(namespaces)}, labels=labels)
    return finished(kube, _backups(), name)


def _backups():
    from drd.clients.kube_resources import VELERO_BACKUPS

    return VELERO_BACKUPS
