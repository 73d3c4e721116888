"""Operations run against the fast two-region sandbox, and against a bare cluster without Velero."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.clients.kube import KubeClient
from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.fixtures import dr, primary, sandbox

__all__ = ["bare", "dr", "emulated", "primary", "sandbox"]


@pytest.fixture
def bare() -> Iterator[KubeClient]:
    """drd's client of a cluster where Velero was never installed."""
    with KubeEmulator() as emulator:
        kube = KubeClient.from_api_url(emulator.url, cluster="bare")
        yield kube
        kube.close()


@pytest.fixture
def emulated() -> Iterator[tuple[KubeEmulator, KubeClient]]:
    """A bare cluster (no controllers, no Velero) and drd's client of it, for tests that drive the API themselves."""
    with KubeEmulator() as emulator:
        kube = KubeClient.from_api_url(emulator.url, cluster="emulated")
        yield emulator, kube
        kube.close()
