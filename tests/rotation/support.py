"""A sandbox with Vault, settings over it, engines with the rotation steps, and RotationPolicy builders."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from drd.clients.kube_resources import NAMESPACES, SECRETS
from drd.clients.vault import VaultClient
from drd.policy.loader import load_config
from drd.rotation.steps import rotation_actions
from drd.runbooks.assembly import Assembly, assemble
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.files import write_files
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology
from drd.settings import Secret, Settings
from drd.store import Store, open_store

OPERATOR = "carol@test"


class Interrupt(BaseException):
    """Stands for drd being killed: not an error any layer handles."""


@pytest.fixture
def vaulted(moto: MotoS3) -> Iterator[Sandbox]:
    """Primary (with the shop) and DR clusters, Velero, and a real OpenBao; a ``shop`` namespace in dr-west too."""
    options = SandboxOptions.fast()
    options.topology = default_topology(canary=False)
    with Sandbox(options, moto=moto) as environment:
        environment.cluster("dr-west").kube.create(NAMESPACES, {"metadata": {"name": "shop"}})
        yield environment


def vaulted_settings(sandbox: Sandbox, tmp_path: Path) -> Settings:
    """Settings over the sandbox: its kubeconfig, a config directory, a SQLite store, its Vault."""
    paths = write_files(sandbox, tmp_path / "sb")
    base = Settings.from_env({})
    assert sandbox.vault is not None
    return replace(
        base,
        config=replace(base.config, directory=str(paths["config"])),
        kube=replace(base.kube, kubeconfig=str(paths["kubeconfig"])),
        store=replace(base.store, url=str(tmp_path / "drd.sqlite")),
        vault=replace(base.vault, addr=sandbox.vault.url, token=Secret(sandbox.vault.root_token)),
    )


@pytest.fixture
def settings(vaulted: Sandbox, tmp_path: Path) -> Settings:
    return vaulted_settings(vaulted, tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with open_store(settings.store.url) as opened:
        yield opened


@pytest.fixture
def vault(settings: Settings) -> Iterator[VaultClient]:
    client = VaultClient.from_settings(settings.vault)
    yield client
    client.close()


@pytest.fixture
def make_engine(settings: Settings, store: Store) -> Iterator[Callable[..., Engine]]:
    """Engines with the rotation steps over the sandbox (a fresh one stands for a restarted drd)."""
    built: list[Assembly] = []

    def build(**options: Any) -> Engine:
        config = load_config([settings.config.directory])
        extra = rotation_actions(options.pop("iam", None))
        assembly = assemble(settings, config, store, identity=OPERATOR, extra_actions=extra, **options)
        built.append(assembly)
        return assembly.engine

    yield build
    for assembly in built:
        assembly.close()


def a_policy(settings: Settings, name: str = "shop-api-token", **spec: Any) -> None:
    """Write a generated-value RotationPolicy into the config directory (shop namespace, both clusters)."""
    body: dict[str, Any] = {
        "source": {"type": "generated", "length": 40},
        "vault": {"path": f"drd/shop/{name}"},
        "deliver": [
            {
                "clusters": ["primary-east", "dr-west"],
                "namespace": "shop",
                "secret": name,
                "keys": {"token": "value"},
            }
        ],
        "consumers": [{"clusters": ["primary-east"], "namespace": "shop", "kind": "Deployment", "name": "storefront"}],
        "verify": [{"type": "workloadsReady", "namespace": "shop", "timeout": "30s"}],
        "verifyTimeout": "30s",
        "gracePeriod": "0s",
    } | spec
    document = {"apiVersion": "drd.dev/v1", "kind": "RotationPolicy", "metadata": {"name": name}, "spec": body}
    Path(settings.config.directory, f"{name}.yaml").write_text(yaml.safe_dump(document))


def secret_value(sandbox: Sandbox, cluster: str, name: str, key: str, namespace: str = "shop") -> str:
    secret = sandbox.cluster(cluster).kube.get(SECRETS, name, namespace=namespace)
    return base64.b64decode(secret["data"][key]).decode()
