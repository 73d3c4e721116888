"""Kinds are registered, not hard-wired: another package can add one, and the loader and schema follow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from drd.errors import PolicyError
from drd.policy import registry
from drd.policy.catalog import Catalog, Finding, error
from drd.policy.loader import load_config
from drd.policy.models.base import Document, Model
from drd.policy.models.cluster import Cluster
from drd.policy.names import Name
from drd.policy.schema import json_schema

from .builders import write


class RunbookSpec(Model):
    """A stand-in for a kind another package would define."""

    cluster: Name
    """Where the runbook runs."""


class Runbook(Document):
    """A runbook, registered by a test."""

    kind: Literal["Runbook"]
    spec: RunbookSpec


def check_runbook(runbook: Runbook, catalog: Catalog) -> Iterator[Finding]:
    """The runbook's cluster is in the inventory."""
    if catalog.get(Cluster, runbook.spec.cluster) is None:
        yield error(("spec", "cluster"), f'cluster "{runbook.spec.cluster}" is not in the inventory')


def with_runbooks() -> registry.Registry:
    """The built-in kinds plus Runbook."""
    kinds = registry.builtin()
    kinds.register(registry.KindSpec(Runbook, check_runbook))
    return kinds


RUNBOOK = "apiVersion: drd.dev/v1\nkind: Runbook\nmetadata:\n  name: failover\nspec:\n  cluster: {cluster}\n"


def test_a_registered_kind_loads_and_is_checked(policies: Path) -> None:
    """Documents of the new kind validate against its model, and its cross-document check runs."""
    write(policies, "failover.yaml", RUNBOOK.format(cluster="dr-west"))
    config = load_config([policies], kinds=with_runbooks())
    assert list(config.of_kind(Runbook)) == ["failover"]
    write(policies, "failover.yaml", RUNBOOK.format(cluster="dr-south"))
    with pytest.raises(PolicyError) as raised:
        load_config([policies], kinds=with_runbooks())
    assert str(raised.value) == 'policies/failover.yaml:6: spec.cluster: cluster "dr-south" is not in the inventory'


def test_unregistered_kinds_are_refused_with_the_accepted_list(policies: Path) -> None:
    """Without registration, the kind is unknown; the message lists what is accepted."""
    write(policies, "failover.yaml", RUNBOOK.format(cluster="dr-west"))
    with pytest.raises(
        PolicyError, match=r'unknown kind "Runbook"; accepted kinds: BackupPolicy, Cluster, DrillPolicy'
    ):
        load_config([policies])


def test_a_failing_check_becomes_a_problem(policies: Path) -> None:
    """A check that raises cannot break loading: its exception is reported against the document."""

    def broken(runbook: Runbook, catalog: Catalog) -> Iterator[Finding]:
        raise RuntimeError("bug")

    kinds = registry.builtin()
    kinds.register(registry.KindSpec(Runbook, broken))
    write(policies, "failover.yaml", RUNBOOK.format(cluster="dr-west"))
    with pytest.raises(PolicyError, match=r"failover.yaml:1: internal error checking this document: RuntimeError"):
        load_config([policies], kinds=kinds)


def test_a_kind_is_registered_once() -> None:
    """Registering a kind twice is a programming error, caught at import."""
    with pytest.raises(ValueError, match="kind Cluster is already registered"):
        registry.builtin().register(registry.KindSpec(Cluster))


def test_the_schema_includes_registered_kinds() -> None:
    """json_schema covers whatever the registry holds."""
    schema = json_schema(kinds=with_runbooks())
    assert {"$ref": "#/$defs/Runbook"} in schema["oneOf"]
