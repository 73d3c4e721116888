"""Rotation under faults: a Vault sandbox without the database (generated values only), and one rotation to its end."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from drd.clients.kube_resources import NAMESPACES
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import start_rotation
from drd.runbooks.engine.runner import Engine
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology
from drd.settings import Settings
from drd.store import Store
from tests.rotation.support import OPERATOR

CLUSTERS = ("primary-east", "dr-west")


def vaulted_sandbox(moto: MotoS3) -> Iterator[Sandbox]:
    """Primary and DR clusters, Velero and a real OpenBao (no PostgreSQL: generated values need none)."""
    options = SandboxOptions.fast()
    options.vault_database = False
    options.topology = default_topology(canary=False)
    with Sandbox(options, moto=moto) as environment:
        environment.cluster("dr-west").kube.create(NAMESPACES, {"metadata": {"name": "shop"}})
        yield environment


@pytest.fixture
def vaulted(moto: MotoS3) -> Iterator[Sandbox]:
    """A fresh Vault sandbox per test (faults are injected into it)."""
    yield from vaulted_sandbox(moto)


def rotate(
    make_engine: Callable[..., Engine], settings: Settings, store: Store, name: str, **options: object
) -> tuple[str, Phase]:
    """One rotation of policy ``name`` executed until it stops (terminal or waiting): run id and its phase."""
    engine = make_engine(**options)
    config = load_config([settings.config.directory])
    record = start_rotation(engine, config, config.of_kind(RotationPolicy)[name], trigger="test", requested_by=OPERATOR)
    engine.execute(record.id)
    return record.id, store.get_run(record.id).phase


def vault_path(name: str) -> str:
    return f"drd/shop/{name}"
