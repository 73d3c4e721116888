"""Namespaces drd creates for drills and restores: isolated, owned, and deleted for sure.

A drill restores into a namespace drd made for that drill, never into one that
exists for another reason (design.md, safety rules). Ownership is a label
(``owner_label``) whose value identifies the creator, such as the drill run:
:func:`create_isolated_namespace` refuses a namespace that exists without that
mark and is idempotent for one that has it, so a resumed drill continues where
it stopped. Isolation is a deny-all NetworkPolicy (no ingress, no egress: a
restored application cannot call production or receive traffic), optionally
with a ResourceQuota and a LimitRange.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drd.clients.errors import KubeAlreadyExists, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import LIMIT_RANGES, NAMESPACES, NETWORK_POLICIES, RESOURCE_QUOTAS, Resource
from drd.clock import Clock
from drd.errors import PermanentError, TemporaryError
from drd.operations import drift, waiting
from drd.operations import labels as drd_labels

DENY_ALL_POLICY = "drd-deny-all"
"""Name of the NetworkPolicy that cuts a namespace off (every pod, both directions)."""
QUOTA_NAME = "drd-quota"
LIMIT_RANGE_NAME = "drd-limits"


class NamespaceExists(PermanentError):
    """The namespace exists and drd did not create it for this caller: nothing may be restored into it."""

    def __init__(self, kube: KubeClient, name: str, *, owner_label: str, expected: str, found: str | None) -> None:
        has = f'has {owner_label}="{found}"' if found is not None else f"has no {owner_label} label"
        super().__init__(
            f'{kube.system}: namespace "{name}" already exists and was not created by drd for this run '
            f'(it {has}, expected "{expected}"); refusing to use it'
        )
        self.namespace = name


class NamespaceNotOwned(PermanentError):
    """The namespace lacks the owner mark the caller expected: drd will not delete it."""


class NamespaceTerminating(TemporaryError):
    """The namespace is being deleted; it can be created again once it is gone."""


def namespace_owned_by(obj: Mapping[str, Any], label: str, value: str) -> bool:
    """Whether a namespace carries the owner mark ``label=value`` (as a label, or as an annotation)."""
    metadata = obj.get("metadata") or {}
    return (metadata.get("labels") or {}).get(label) == value or (metadata.get("annotations") or {}).get(label) == value


def create_isolated_namespace(
    kube: KubeClient,
    name: str,
    *,
    labels: Mapping[str, str],
    owner_label: str,
    annotations: Mapping[str, str] | None = None,
    deny_network: bool = True,
    quota: Mapping[str, Any] | None = None,
    limit_range: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a namespace owned by the caller, cut off from the network; return the Namespace.

    ``labels`` must contain ``owner_label``: its value is the ownership mark.
    An existing namespace carrying the same mark is reused (the isolation
    objects are made if missing); one without it raises
    :class:`NamespaceExists`; one being deleted raises the temporary
    :class:`NamespaceTerminating`. ``quota`` and ``limit_range`` are the
    ``spec`` of a ResourceQuota (``{"hard": {...}}``) and a LimitRange
    (``{"limits": [...]}``), exactly as Kubernetes spells them.
    """
    if owner_label not in labels:
        raise PermanentError(f"owner label {owner_label!r} must be one of the labels given to namespace {name!r}")
    owner_value = labels[owner_label]
    metadata: dict[str, Any] = {"name": name, "labels": {drd_labels.MANAGED_BY: drd_labels.MANAGER, **labels}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    try:
        namespace = kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})
    except KubeAlreadyExists:
        namespace = kube.get(NAMESPACES, name)
        if not namespace_owned_by(namespace, owner_label, owner_value):
            found = (namespace["metadata"].get("labels") or {}).get(owner_label)
            raise NamespaceExists(kube, name, owner_label=owner_label, expected=owner_value, found=found) from None
        if namespace["metadata"].get("deletionTimestamp"):
            raise NamespaceTerminating(
                f'{kube.system}: namespace "{name}" is being deleted; create it again once it is gone', delay=5.0
            ) from None
    if deny_network:
        isolate_namespace(kube, name)
    if quota is not None:
        _ensure(kube, RESOURCE_QUOTAS, _object("ResourceQuota", QUOTA_NAME, name, dict(quota)), namespace=name)
    if limit_range is not None:
        limits = _object("LimitRange", LIMIT_RANGE_NAME, name, dict(limit_range))
        _ensure(kube, LIMIT_RANGES, limits, namespace=name)
    return namespace


def isolate_namespace(kube: KubeClient, name: str) -> dict[str, Any]:
    """Put the deny-all NetworkPolicy (every pod, Ingress and Egress, no rules) into an existing namespace."""
    spec = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    policy = _object("NetworkPolicy", DENY_ALL_POLICY, name, spec, api_version="networking.k8s.io/v1")
    return _ensure(kube, NETWORK_POLICIES, policy, namespace=name)


def delete_namespace(
    kube: KubeClient,
    name: str,
    *,
    wait: bool = True,
    timeout_seconds: float = 120.0,
    owned_by: tuple[str, str] | None = None,
    clock: Clock | None = None,
) -> bool:
    """Delete a namespace and (``wait``) watch until it is gone; False when it did not exist.

    With ``owned_by=(label, value)``, a namespace without that mark is not
    touched (:class:`NamespaceNotOwned`). Waiting raises
    :class:`~drd.operations.waiting.WaitTimedOut` when something inside keeps
    it Terminating (an object's finalizer) past the deadline.
    """
    if owned_by is not None:
        current = kube.find(NAMESPACES, name)
        if current is None:
            return False
        if not namespace_owned_by(current, *owned_by):
            raise NamespaceNotOwned(
                f'{kube.system}: namespace "{name}" is not marked {owned_by[0]}="{owned_by[1]}"; not deleting it'
            )
    try:
        kube.delete(NAMESPACES, name)
    except KubeNotFound:
        return False
    if wait:
        waiting.wait_for(
            kube,
            NAMESPACES,
            name,
            namespace=None,
            until=lambda ns: True if ns is None else None,
            timeout_seconds=timeout_seconds,
            what=f'namespace "{name}" to be deleted',
            clock=clock,
        )
    return True


def _object(kind: str, name: str, namespace: str, spec: dict[str, Any], *, api_version: str = "v1") -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {drd_labels.MANAGED_BY: drd_labels.MANAGER},
        },
        "spec": spec,
    }


def _ensure(kube: KubeClient, resource: Resource, body: dict[str, Any], *, namespace: str) -> dict[str, Any]:
    """Create the object, or make an existing one's ``spec`` exactly ``body``'s (extra rules are removed)."""
    name = body["metadata"]["name"]
    try:
        return kube.create(resource, body, namespace=namespace)
    except KubeAlreadyExists:
        current = kube.get(resource, name, namespace=namespace)
    if current.get("spec") == body["spec"]:
        return current
    spec_patch = drift.merge_patch(current.get("spec") or {}, body["spec"])
    patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}, "spec": spec_patch}
    return kube.merge_patch(resource, name, patch, namespace=namespace)
