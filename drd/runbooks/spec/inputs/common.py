"""Field types shared by several step types' inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer

from drd.policy.frozen import FrozenMap
from drd.policy.models.base import Model
from drd.policy.models.checks import ApiVersion, KindName
from drd.policy.names import Matches, Name, ObjectName


def freeze(value: Mapping[Any, Any]) -> FrozenMap[Any, Any]:
    """An immutable copy of a mapping input."""
    return FrozenMap(value)


FrozenDict = Annotated[Mapping[str, Any], AfterValidator(freeze), PlainSerializer(dict, return_type=dict)]
"""A free-form mapping input (a patch, a manifest, Vault data), kept immutable."""

BackupName = Annotated[
    str,
    Matches(
        r"^(latest|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$",
        '"latest" or a Backup name (lowercase letters, digits, "-" and ".")',
        253,
        ("latest", "shop-20260301030000"),
    ),
]
"""``latest`` or the name of a Velero Backup."""

Replicas = Annotated[int, Field(ge=0, le=10_000)]
"""A replica count."""


class ClusterInputs(Model):
    """Inputs of a type that acts on one cluster of the inventory."""

    cluster: Name
    """The cluster, by its inventory name."""


class ObjectInputs(ClusterInputs):
    """Inputs that name one Kubernetes object."""

    api_version: ApiVersion
    """``v1`` or ``group/version`` (``apps/v1``)."""
    kind: KindName
    """The object's kind (``ConfigMap``)."""
    name: ObjectName
    """The object's name."""
    namespace: Name | None = None
    """Its namespace; omitted for cluster-scoped objects."""


NamespaceList = Annotated[tuple[Name, ...], Field(max_length=1000)]
