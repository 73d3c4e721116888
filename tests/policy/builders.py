"""Builders for policy tests: documents as plain data with YAML-named overrides, written as real files.

``a_backup_policy(schedule="@daily")`` is a valid BackupPolicy document with
one field changed; :func:`write` puts documents (or literal YAML text, for
tests that assert line numbers) into a file; :func:`problems` loads and
returns what :class:`~drd.errors.PolicyError` carried.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from drd.errors import PolicyError, Problem
from drd.policy.loader import Config, load_config

API = "drd.dev/v1"


def a_cluster(name: str = "dr-west", *, region: str = "us-west-2", role: str = "dr", **spec: Any) -> dict[str, Any]:
    """A Cluster reached through the kubeconfig context of its own name."""
    body = {"region": region, "role": role, "provider": "eks", "connection": {"context": name}} | spec
    return {"apiVersion": API, "kind": "Cluster", "metadata": {"name": name}, "spec": body}


def an_inventory() -> list[dict[str, Any]]:
    """primary-east (us-east-1, primary), dr-west (us-west-2, dr), canary-east (us-east-1, canary)."""
    return [
        a_cluster("primary-east", region="us-east-1", role="primary"),
        a_cluster("dr-west"),
        a_cluster("canary-east", region="us-east-1", role="canary"),
    ]


def a_backup_policy(name: str = "shop", **spec: Any) -> dict[str, Any]:
    """An hourly backup of namespace ``shop`` on primary-east with a 2h RPO."""
    body = {
        "application": "shop",
        "cluster": "primary-east",
        "scope": {"includedNamespaces": ["shop"]},
        "schedule": "0 * * * *",
        "objectives": {"rpo": "2h"},
    } | spec
    return {"apiVersion": API, "kind": "BackupPolicy", "metadata": {"name": name}, "spec": body}


def a_drill_policy(name: str = "shop-nightly", **spec: Any) -> dict[str, Any]:
    """A nightly drill of backup policy ``shop`` into dr-west with a 30m RTO and one check."""
    body = {
        "backupPolicy": "shop",
        "target": "dr-west",
        "schedule": "@daily",
        "objectives": {"rto": "30m"},
        "verify": [{"type": "workloadsReady"}],
    } | spec
    return {"apiVersion": API, "kind": "DrillPolicy", "metadata": {"name": name}, "spec": body}


def write(directory: Path, name: str, *documents: dict[str, Any] | str) -> Path:
    """Write ``documents`` into ``directory/name`` separated by ``---``; strings are YAML text, dedented."""
    texts = [
        textwrap.dedent(document).strip("\n") + "\n"
        if isinstance(document, str)
        else yaml.safe_dump(document, sort_keys=False)
        for document in documents
    ]
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("---\n".join(texts), encoding="utf-8")
    return path


def load(*paths: Path) -> Config:
    """Load ``paths``; the test fails with every problem if loading fails."""
    return load_config(list(paths))


def problems(*paths: Path) -> tuple[Problem, ...]:
    """The problems loading ``paths`` raises; the test fails if it loads."""
    with pytest.raises(PolicyError) as raised:
        load_config(list(paths))
    return raised.value.problems


def messages(*paths: Path) -> list[str]:
    """Each problem of loading ``paths`` as the CLI prints it: ``file:line: path: message``."""
    return [str(problem) for problem in problems(*paths)]
