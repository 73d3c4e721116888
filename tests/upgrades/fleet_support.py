"""The sandbox fleet the upgrade tests drive: three clusters, settings, a store, drivers and plan builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DEPLOYMENTS, NODES
from drd.daemon.upgrade_ledger import StoreLedger
from drd.operations.nodes import PDBS
from drd.policy.loader import load_config
from drd.policy.models.upgrade import UpgradePlan
from drd.runbooks.assembly import Assembly, assemble
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.files import write_files
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology
from drd.settings import Settings
from drd.store import Store, open_store
from drd.upgrades import run as upgrade_run
from drd.upgrades.progress import CLUSTER_KIND
from drd.upgrades.steps import upgrade_actions

TARGET = "v1.32.0"
OPERATOR = "carol@test"
APPROVER = "dave@test"


class Interrupt(BaseException):
    """Stands for drd being killed: not an error any layer handles."""


@pytest.fixture
def fleet(moto: MotoS3) -> Iterator[Sandbox]:
    """primary-east (with the shop), dr-west and canary-east on v1.31.4, fast timings, no Vault."""
    options = SandboxOptions.fast()
    options.vault = False
    options.topology = default_topology(canary=True)
    with Sandbox(options, moto=moto) as environment:
        yield environment


def fleet_settings(fleet: Sandbox, tmp_path: Path) -> Settings:
    """Settings pointing at the fleet's kubeconfig and a config directory of its own, a SQLite store."""
    paths = write_files(fleet, tmp_path / "sb")
    base = Settings.from_env({})
    return replace(
        base,
        config=replace(base.config, directory=str(paths["config"])),
        kube=replace(base.kube, kubeconfig=str(paths["kubeconfig"])),
        store=replace(base.store, url=str(tmp_path / "drd.sqlite")),
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with open_store(settings.store.url) as opened:
        yield opened


def a_plan(settings: Settings, *, stages: list[dict[str, Any]] | None = None, **spec: Any) -> None:
    """Write UpgradePlan ``fleet`` (canary-east, then dr-west, then primary-east) into the config directory."""
    body: dict[str, Any] = {
        "targetVersion": TARGET,
        "stages": stages
        or [
            {"name": "canary", "clusters": {"role": "canary"}},
            {"name": "dr", "clusters": {"names": ["dr-west"]}},
            {"name": "production", "clusters": {"names": ["primary-east"]}},
        ],
        "drain": {"timeout": "2s"},
        "verifyTimeout": "15s",
    } | spec
    document = {"apiVersion": "drd.dev/v1", "kind": "UpgradePlan", "metadata": {"name": "fleet"}, "spec": body}
    Path(settings.config.directory, "fleet.yaml").write_text(yaml.safe_dump(document))


@pytest.fixture
def make_driver(settings: Settings, store: Store) -> Iterator[Callable[..., upgrade_run.UpgradeDriver]]:
    """Build drivers over the sandbox (a fresh one stands for a restarted drd)."""
    built: list[Assembly] = []

    def build(**options: Any) -> upgrade_run.UpgradeDriver:
        config = load_config([settings.config.directory])
        assembly = assemble(
            settings, config, store, identity=OPERATOR, extra_actions=upgrade_actions(), executor="drd-0", **options
        )
        built.append(assembly)
        plan = config.of_kind(UpgradePlan)["fleet"]
        return upgrade_run.UpgradeDriver(assembly.engine, config, plan, StoreLedger(store), requested_by=OPERATOR)

    yield build
    for assembly in built:
        assembly.close()


def versions(fleet: Sandbox, cluster: str) -> tuple[str, set[str]]:
    """The control plane's gitVersion and the kubelet versions of a cluster."""
    kube = fleet.cluster(cluster).kube
    kubelets = {n["status"]["nodeInfo"]["kubeletVersion"] for n in kube.list_objects(NODES).items}
    return str(kube.version()["gitVersion"]), kubelets


def cluster_runs(store: Store, cluster: str) -> list[Any]:
    return store.list_runs(kind=CLUSTER_KIND, subject=f"fleet/{cluster}")


def steps_named(store: Store, run_id: str, name: str) -> list[Any]:
    return [s for s in store.steps(run_id) if s.name == name]


def budget_blocking(kube: KubeClient, namespace: str = "default") -> None:
    """Deployment ``web`` (2 replicas) and PodDisruptionBudget ``web`` allowing no disruption."""
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "web:1"}]}}
    spec = {"replicas": 2, "selector": {"matchLabels": labels}, "template": template}
    kube.create(DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": spec}, namespace=namespace)
    budget = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels}, "minAvailable": 2}}
    kube.create(PDBS, budget, namespace=namespace)
