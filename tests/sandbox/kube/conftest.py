"""Fixtures for the emulator's conformance tests: a fresh cluster per test, official clients, kubectl.

Every test gets its own :class:`KubeEmulator` on a fresh port (it starts in a few
milliseconds), so DynamicClient discovery caches — keyed by host — never go stale.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from drd.sandbox.kube.emulator import KubeEmulator

KUBECTL = shutil.which("kubectl")


@pytest.fixture
def emu() -> Iterator[KubeEmulator]:
    """A started emulator with the default namespaces."""
    with KubeEmulator(seed=1) as emulator:
        yield emulator


@pytest.fixture
def velero_emu() -> Iterator[KubeEmulator]:
    """A started emulator with Velero's CRDs installed and a ``velero`` namespace."""
    with KubeEmulator(seed=1, velero=True) as emulator:
        emulator.store.create("namespaces", {"metadata": {"name": "velero"}})
        yield emulator


def api_client_for(emulator: KubeEmulator) -> client.ApiClient:
    """An ApiClient talking to the emulator over HTTP (caller closes it)."""
    configuration = client.Configuration()
    configuration.host = emulator.url
    configuration.api_key = {"authorization": "Bearer any-token"}
    return client.ApiClient(configuration)


@pytest.fixture
def api(emu: KubeEmulator) -> Iterator[client.ApiClient]:
    """An ApiClient bound to ``emu``."""
    with api_client_for(emu) as api_client:
        yield api_client


@pytest.fixture
def velero_api(velero_emu: KubeEmulator) -> Iterator[client.ApiClient]:
    """An ApiClient bound to ``velero_emu``."""
    with api_client_for(velero_emu) as api_client:
        yield api_client


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    """CoreV1Api on ``emu``."""
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    """AppsV1Api on ``emu``."""
    return client.AppsV1Api(api)


@pytest.fixture
def custom(velero_api: client.ApiClient) -> client.CustomObjectsApi:
    """CustomObjectsApi on ``velero_emu``."""
    return client.CustomObjectsApi(velero_api)


def status_of(error: client.ApiException) -> dict[str, Any]:
    """The Status body of an ApiException."""
    body: dict[str, Any] = json.loads(error.body)
    return body


@dataclass
class RawResponse:
    """A response read with the stdlib, for what the official client cannot send or hides."""

    status: int
    headers: dict[str, str]
    body: Any


def raw_request(
    emulator: KubeEmulator,
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    """One HTTP request to the emulator on a fresh connection; JSON bodies are decoded."""
    connection = http.client.HTTPConnection(emulator.host, emulator.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        content_type = response.getheader("Content-Type") or ""
        decoded: Any = json.loads(data) if data and content_type.startswith("application/json") else data
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, decoded)
    finally:
        connection.close()


def a_backup(name: str = "nightly", **spec: Any) -> dict[str, Any]:
    """A Velero Backup manifest."""
    return {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": name}, "spec": spec}


def a_deployment(name: str = "web", *, replicas: int = 1, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Deployment manifest with one container."""
    match = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": match},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }


@dataclass
class Kubectl:
    """The real kubectl, pointed at one emulator through a kubeconfig in the test's tmp_path."""

    kubeconfig: Path
    cache_dir: Path

    def command(self, *args: str) -> list[str]:
        """The argv for one kubectl invocation."""
        assert KUBECTL is not None
        return [
            KUBECTL,
            f"--kubeconfig={self.kubeconfig}",
            f"--cache-dir={self.cache_dir}",
            "--request-timeout=10s",
            *args,
        ]

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run kubectl to completion; fails the test on a non-zero exit unless ``check=False``."""
        result = subprocess.run(
            self.command(*args), input=stdin, capture_output=True, text=True, timeout=30, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result


@pytest.fixture
def kubectl(velero_emu: KubeEmulator, tmp_path: Path) -> Kubectl:
    """kubectl against ``velero_emu`` (Velero installed), namespace ``default``."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    return Kubectl(velero_emu.write_kubeconfig(tmp_path / "kubeconfig"), tmp_path / "kube-cache")
