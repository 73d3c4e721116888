"""Any Kubernetes object by ``apiVersion`` and ``kind``: get, apply, patch, annotate, delete, with dry-run.

Runbook steps name objects the way manifests do (``apps/v1`` ``Deployment``),
not by REST path. :func:`resource_for` asks the API server's discovery where
that kind lives (so custom resources work once their CRD is installed) and
remembers the answer per client. Every write takes ``dry_run``: the request
goes to the server with ``dryRun=All``, which validates and admits it and
answers as if it had written, persisting nothing; a dry run therefore fails
exactly where the real call would.

:func:`apply` is "create, or merge-patch what differs": fields the manifest
does not mention are left as they are (no pruning, unlike ``kubectl apply``
with its last-applied annotation), and ``status`` is never sent.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from typing import Any, Literal

from drd.clients.errors import KubeAlreadyExists, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import Resource
from drd.errors import PermanentError

Applied = Literal["created", "updated", "unchanged"]
PatchType = Literal["merge", "json"]

_MANAGED_METADATA = ("labels", "annotations")
"""The metadata fields a manifest may set on an existing object (the rest is the server's)."""

_CACHE: weakref.WeakKeyDictionary[KubeClient, dict[tuple[str, str], Resource]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


class UnknownKind(PermanentError):
    """The cluster does not serve this kind at this apiVersion (a typo, or a CRD that is not installed)."""

    def __init__(self, kube: KubeClient, api_version: str, kind: str) -> None:
        super().__init__(
            f"{kube.system}: the API does not serve kind {kind} in {api_version} "
            "(is the apiVersion right? is the CustomResourceDefinition installed?)"
        )
        self.api_version = api_version
        self.kind = kind


def resource_for(kube: KubeClient, api_version: str, kind: str) -> Resource:
    """Where ``kind`` objects of ``api_version`` live, from discovery (cached per client once found)."""
    key = (api_version, kind)
    with _CACHE_LOCK:
        known = _CACHE.get(kube, {}).get(key)
    if known is not None:
        return known
    group, _, version = api_version.rpartition("/")
    try:
        listing = kube.get_path(f"/apis/{group}/{version}" if group else f"/api/{version}")
    except KubeNotFound:
        raise UnknownKind(kube, api_version, kind) from None
    for entry in listing.get("resources") or []:
        name = str(entry.get("name") or "")
        if entry.get("kind") == kind and name and "/" not in name:
            found = Resource(group, version, name, kind, namespaced=bool(entry.get("namespaced")))
            with _CACHE_LOCK:
                _CACHE.setdefault(kube, {})[key] = found
            return found
    raise UnknownKind(kube, api_version, kind)


def get_object(
    kube: KubeClient, api_version: str, kind: str, name: str, *, namespace: str | None = None
) -> dict[str, Any] | None:
    """The object, or None when absent."""
    resource = resource_for(kube, api_version, kind)
    return kube.find(resource, name, namespace=_namespace(resource, namespace))


def apply(
    kube: KubeClient, manifest: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False
) -> Applied:
    """Create the object, or merge-patch it where it differs from the manifest; say which happened.

    ``namespace`` is used when the manifest has none (like ``kubectl -n``).
    The patch carries the resourceVersion read, so a concurrent change is a
    KubeConflict (a TemporaryError) rather than a lost update. An update the
    server finds to change nothing is reported ``unchanged``.
    """
    api_version, kind, name = _identity(manifest)
    resource = resource_for(kube, api_version, kind)
    target = _namespace(resource, (manifest.get("metadata") or {}).get("namespace") or namespace)
    if resource.namespaced and not target:
        raise PermanentError(f"{kind} {name!r} is namespaced: give metadata.namespace or a namespace")
    current = kube.find(resource, name, namespace=target)
    if current is None:
        try:
            kube.create(resource, manifest, namespace=target, dry_run=dry_run)
        except KubeAlreadyExists:  # created by someone else since we looked: compare with theirs
            current = kube.get(resource, name, namespace=target)
        else:
            return "created"
    wanted = _desired(manifest)
    if _contains(current, wanted):
        return "unchanged"
    guard = {"resourceVersion": current["metadata"]["resourceVersion"]}
    patch = {**wanted, "metadata": {**(wanted.get("metadata") or {}), **guard}}
    patched = kube.merge_patch(resource, name, patch, namespace=target, dry_run=dry_run)
    if not dry_run and patched["metadata"].get("resourceVersion") == guard["resourceVersion"]:
        return "unchanged"
    return "updated"


def patch(
    kube: KubeClient,
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    patch: Mapping[str, Any] | list[dict[str, Any]],
    patch_type: PatchType = "merge",
    dry_run: bool = False,
) -> dict[str, Any]:
    """Patch one object: an RFC 7386 merge patch (a mapping) or an RFC 6902 JSON patch (a list of operations)."""
    resource = resource_for(kube, api_version, kind)
    target = _namespace(resource, namespace)
    if patch_type == "merge" and isinstance(patch, Mapping):
        return kube.merge_patch(resource, name, patch, namespace=target, dry_run=dry_run)
    if patch_type == "json" and isinstance(patch, list):
        return kube.json_patch(resource, name, patch, namespace=target, dry_run=dry_run)
    raise PermanentError(
        f"a {patch_type} patch must be {'a mapping' if patch_type == 'merge' else 'a list of operations'}; "
        f"patch types: merge (RFC 7386, a mapping), json (RFC 6902, a list)"
    )


def annotate(
    kube: KubeClient,
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    annotations: Mapping[str, str | None],
    dry_run: bool = False,
) -> dict[str, Any]:
    """Set annotations on one object (a None value removes that annotation); others are left alone."""
    body = {"metadata": {"annotations": dict(annotations)}}
    return patch(kube, api_version, kind, name, namespace=namespace, patch=body, dry_run=dry_run)


def delete_object(
    kube: KubeClient,
    api_version: str,
    kind: str,
    name: str,
    *,
    namespace: str | None = None,
    propagation: Literal["Background", "Foreground", "Orphan"] = "Background",
    dry_run: bool = False,
) -> bool:
    """Delete one object (dependents by ``propagation``); False when it was already gone."""
    resource = resource_for(kube, api_version, kind)
    try:
        kube.delete(resource, name, namespace=_namespace(resource, namespace), propagation=propagation, dry_run=dry_run)
    except KubeNotFound:
        return False
    return True


def _identity(manifest: Mapping[str, Any]) -> tuple[str, str, str]:
    api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
    name = (manifest.get("metadata") or {}).get("name")
    missing = [
        field for field, value in (("apiVersion", api_version), ("kind", kind), ("metadata.name", name)) if not value
    ]
    if missing:
        raise PermanentError(f"a manifest needs {', '.join(missing)}")
    return str(api_version), str(kind), str(name)


def _namespace(resource: Resource, namespace: str | None) -> str | None:
    return namespace if resource.namespaced else None


def _desired(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What apply sends for an existing object: every top-level field but identity and status; labels, annotations."""
    wanted = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    metadata = manifest.get("metadata") or {}
    managed = {k: metadata[k] for k in _MANAGED_METADATA if metadata.get(k)}
    if managed:
        wanted["metadata"] = managed
    return wanted


def _contains(have: Any, want: Any) -> bool:
    """Whether ``have`` already says everything ``want`` says (merge-patch reading: a None asks for absence)."""
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return False
        return all(
            (have.get(key) is None) if value is None else (key in have and _contains(have[key], value))
            for key, value in want.items()
        )
    return bool(have == want)
