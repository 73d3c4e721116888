"""A sandbox with the canary cluster: primary-east, dr-west and canary-east, all on v1.31.4."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.s3 import MotoS3
from drd.sandbox.topology import default_topology


@pytest.fixture
def sandbox(moto: MotoS3) -> Iterator[Sandbox]:
    """The three clusters with fast timings, no Vault and no sample applications."""
    options = SandboxOptions.fast()
    options.vault = False
    options.seed_applications = False
    options.topology = default_topology(canary=True)
    with Sandbox(options, moto=moto) as environment:
        yield environment
