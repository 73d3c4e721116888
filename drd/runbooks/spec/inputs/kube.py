"""Inputs of the ``k8s.*`` step types: read, apply, patch, annotate, delete, scale and wait for objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PlainSerializer, model_validator

from drd.policy.frozen import FrozenMap
from drd.policy.models.base import raise_violations
from drd.policy.names import LabelKey, Labels, Name, ObjectName, Quantity
from drd.runbooks.spec.inputs.common import ClusterInputs, FrozenDict, ObjectInputs, Replicas, freeze


class GetInputs(ObjectInputs):
    """Read one object; a missing one is not an error (``exists`` is false)."""


def _manifest(value: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = value.get("metadata")
    typed = isinstance(value.get("apiVersion"), str) and isinstance(value.get("kind"), str)
    named = isinstance(metadata, Mapping) and isinstance(metadata.get("name"), str)
    if not (typed and named):
        raise ValueError("a manifest needs apiVersion, kind and metadata.name")
    return FrozenMap(value)


Manifest = Annotated[Mapping[str, Any], AfterValidator(_manifest), PlainSerializer(dict, return_type=dict)]


class ApplyInputs(ClusterInputs):
    """Create or update objects (server-side apply by drd's field manager)."""

    manifests: Annotated[tuple[Manifest, ...], Field(min_length=1, max_length=500)]
    """Complete objects: apiVersion, kind, metadata (name, namespace) and the rest."""


class PatchInputs(ObjectInputs):
    """Patch one object."""

    patch: FrozenDict | tuple[FrozenDict, ...]
    """A merge patch (a mapping) or a JSON patch (a list of operations)."""
    patch_type: Literal["merge", "json"] = "merge"
    """``merge`` (RFC 7386) or ``json`` (RFC 6902)."""

    @model_validator(mode="after")
    def _patch_fits_type(self) -> PatchInputs:
        is_list = isinstance(self.patch, tuple)
        if is_list != (self.patch_type == "json"):
            expected = "a list of operations for patchType json" if self.patch_type == "json" else "a mapping"
            raise_violations(self, [(("patch",), f"expected {expected}", None)])
        return self


Annotations = Annotated[Mapping[LabelKey, str | None], AfterValidator(freeze), PlainSerializer(dict, return_type=dict)]


class AnnotateInputs(ObjectInputs):
    """Set (or, with null, remove) annotations of one object."""

    annotations: Annotations
    """Annotation → value; null removes it."""


class DeleteInputs(ObjectInputs):
    """Delete one object; one that is already gone counts as deleted."""


ReplicaMap = Annotated[Mapping[ObjectName, Replicas], AfterValidator(freeze), PlainSerializer(dict, return_type=dict)]


class ScaleInputs(ClusterInputs):
    """Scale Deployments or StatefulSets; ``previous`` records the counts so a compensation can restore them."""

    namespace: Name
    """The namespace."""
    kind: Literal["Deployment", "StatefulSet"]
    """Which workloads."""
    name: ObjectName | None = None
    """One workload; all of the kind in the namespace when omitted."""
    replicas: Replicas | ReplicaMap
    """A count for every selected workload, or name → count (a previous scale's ``previous`` output)."""


WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]


class WaitReadyInputs(ClusterInputs):
    """Wait until workloads in a namespace have their desired replicas ready."""

    namespace: Name
    """The namespace."""
    kinds: Annotated[tuple[WorkloadKind, ...], Field(min_length=1)] = ("Deployment", "StatefulSet", "DaemonSet")
    """Which workload kinds to wait for."""


Quota = Annotated[Mapping[str, Quantity], AfterValidator(freeze), PlainSerializer(dict, return_type=dict)]


class IsolateNamespaceInputs(ClusterInputs):
    """Fence a namespace: a deny-all NetworkPolicy (DNS allowed), an optional quota, labels."""

    namespace: Name
    """The namespace."""
    create: bool = False
    """Create it (labelled as drd's) when it does not exist; otherwise it must exist."""
    deny_network: bool = True
    """Deny ingress from other namespaces and egress beyond the namespace and DNS."""
    quota: Quota | None = None
    """A ResourceQuota (``cpu: "4"``, ``memory: 8Gi``, ``pods: "50"``)."""
    labels: Labels = Field(default_factory=FrozenMap)
    """Labels to set on the namespace."""


class DeleteNamespaceInputs(ClusterInputs):
    """Delete a namespace; one that is already gone counts as deleted."""

    name: Name
    """The namespace."""
    wait: bool = True
    """Wait until it is gone (finalizers done)."""
