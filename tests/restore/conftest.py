"""Incident restores against the two-region sandbox: in-process ``drd restore`` and the engine fixtures."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from drd.cli.main import main
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_RESTORES
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from tests.runbooks.engine.conftest import REQUESTER, RUNBOOKS, policy_backup
from tests.sandbox.fixtures import dr, primary, sandbox
from tests.sandbox.velero.support import synced

__all__ = ["dr", "primary", "sandbox"]

Drd = Callable[..., tuple[int, str, str]]


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The sandbox's configuration, kubeconfig and a fresh store in the environment, as ``source DIR/env`` does."""
    paths = write_files(sandbox, tmp_path / "sb")
    monkeypatch.setenv("DRD_CONFIG", str(paths["config"]))
    monkeypatch.setenv("KUBECONFIG", str(paths["kubeconfig"]))
    monkeypatch.setenv("DRD_STATE", str(tmp_path / "drd.sqlite"))
    monkeypatch.setenv("DRD_RUNBOOKS", str(RUNBOOKS))
    monkeypatch.setenv("DRD_ACTOR", REQUESTER)
    return paths


@pytest.fixture
def drd(env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Drd:
    """``drd(*argv, answer="y")`` runs one command in-process, typing ``answer`` at any prompt: (code, out, err)."""

    def run(*argv: str, answer: str | Callable[[], str] = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", _Answers(answer))
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    return run


class _Answers(io.StringIO):
    """stdin whose first line may be computed when it is read (a test acting while the prompt waits)."""

    def __init__(self, answer: str | Callable[[], str]) -> None:
        super().__init__("" if callable(answer) else answer)
        self._hook = answer if callable(answer) else None

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        if self._hook is not None:
            hook, self._hook = self._hook, None
            return hook()
        return super().readline(size if size is not None else -1)


def replicated_backup(sandbox: Sandbox, primary: KubeClient, dr: KubeClient, name: str = "shop-1") -> dict:
    """A Completed shop backup in the primary, replicated and synced into dr-west."""
    made = policy_backup(primary, name)
    sandbox.replicate_now()
    sandbox.cluster("dr-west").velero.run_periodic_now()
    synced(dr, name)
    return made


def restores(kube: KubeClient) -> list[dict]:
    """The Velero Restores in a cluster."""
    return kube.list_objects(VELERO_RESTORES, namespace="velero").items
