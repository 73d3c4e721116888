"""Builders for runbook-spec tests: runbooks as plain data with overrides, loaded and linted like files.

``a_runbook(steps=[...])`` is a valid Runbook document (one read-only step, no
target); :func:`a_step` builds a step; :func:`problems` loads a document and
returns ``"path: message"`` of every problem, so a test states exactly what
an author would read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from drd.errors import PolicyError
from drd.runbooks.spec.loader import load_runbook_text, load_runbooks
from drd.runbooks.spec.models import Runbook

API = "drd.dev/v1"
RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
"""The shipped example runbooks."""


def a_step(step_id: str = "find-backup", step_type: str = "velero.findBackup", **fields: Any) -> dict[str, Any]:
    """A step; without ``with`` it gets valid inputs for ``velero.findBackup`` on dr-west."""
    inputs = {"cluster": "dr-west", "policy": "shop"} if step_type == "velero.findBackup" else {}
    return {"id": step_id, "type": step_type, "with": inputs} | fields


def a_runbook(name: str = "restore-app", **spec: Any) -> dict[str, Any]:
    """A runbook with one read-only step and the given spec fields."""
    body = {"steps": [a_step()]} | spec
    return {"apiVersion": API, "kind": "Runbook", "metadata": {"name": name}, "spec": body}


class _Dumper(yaml.SafeDumper):
    """Writes shared values out in full: the reader refuses aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def text_of(document: dict[str, Any]) -> str:
    """The document as YAML."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False)


def load(document: dict[str, Any] | str) -> Runbook:
    """The valid runbook; fails the test with the problems if it is not valid."""
    text = document if isinstance(document, str) else text_of(document)
    try:
        return load_runbook_text(text, display="restore-app.yaml")
    except PolicyError as exc:
        pytest.fail(f"unexpected problems:\n{exc}")


def problems(document: dict[str, Any] | str) -> list[str]:
    """``path: message`` of every problem loading ``document`` (empty when it is valid)."""
    text = document if isinstance(document, str) else text_of(document)
    try:
        load_runbook_text(text, display="restore-app.yaml")
    except PolicyError as exc:
        return [f"{problem.path}: {problem.message}" for problem in exc.problems]
    return []


def write(directory: Path, name: str, document: dict[str, Any] | str) -> Path:
    """Write ``document`` (data or literal YAML) to ``directory/name``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(document if isinstance(document, str) else text_of(document), encoding="utf-8")
    return path


def messages(*paths: Path) -> list[str]:
    """Every problem of loading ``paths``, as printed."""
    try:
        load_runbooks(paths)
    except PolicyError as exc:
        return [str(problem) for problem in exc.problems]
    return []
