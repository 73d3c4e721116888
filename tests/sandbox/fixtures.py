"""Sandbox fixtures shared by the sandbox test packages (imported by their conftest modules)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.clients.kube import KubeClient
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology


@pytest.fixture
def sandbox(moto: MotoS3) -> Iterator[Sandbox]:
    """Primary and DR clusters with Velero, replication and the sample applications (no Vault), fast timings."""
    options = SandboxOptions.fast()
    options.vault = False
    options.topology = default_topology(canary=False)
    with Sandbox(options, moto=moto) as environment:
        yield environment


@pytest.fixture
def primary(sandbox: Sandbox) -> KubeClient:
    """drd's client of the primary cluster."""
    return sandbox.cluster("primary-east").kube


@pytest.fixture
def dr(sandbox: Sandbox) -> KubeClient:
    """drd's client of the DR cluster."""
    return sandbox.cluster("dr-west").kube
