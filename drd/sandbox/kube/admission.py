"""Checks a write must pass before it reaches storage, with the apiserver's errors.

Request-shape checks (the body is an object of the URL's kind and apiVersion; its
name and namespace agree with the URL: 400 BadRequest) and the admission rules
the emulator enforces: namespace lifecycle (content may only be created in a
namespace that exists — 404 — and is not terminating — 403) and no custom
resource may be created while its CRD is being deleted (405).
"""

from __future__ import annotations

from typing import Any

from drd.sandbox.kube import errors
from drd.sandbox.kube.registry import CRDS, NAMESPACES, ResourceType
from drd.sandbox.kube.state import ClusterState

Obj = dict[str, Any]


def check_body(rt: ResourceType, body: Any) -> Obj:
    """The body as an object of ``rt``'s kind; 400 when it is not."""
    if not isinstance(body, dict):
        raise errors.BadRequest(f"the object provided is unrecognized (must be of type {rt.kind})")
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version and api_version != rt.api_version:
        expected = rt.api_version
        raise errors.BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )
    if kind and kind != rt.kind:
        raise errors.BadRequest(f"the object provided is unrecognized (must be of type {rt.kind}): kind {kind}")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise errors.BadRequest("metadata must be an object")
    return body


def create_namespace(rt: ResourceType, url_namespace: str | None, meta: Obj) -> str | None:
    """The namespace a create targets: the URL's, which the body may repeat but not contradict."""
    if not rt.namespaced:
        return None
    body_namespace = meta.get("namespace") or None
    if url_namespace and body_namespace and body_namespace != url_namespace:
        raise errors.BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    resolved = url_namespace or body_namespace
    if not resolved:
        raise errors.BadRequest("an empty namespace may not be set during creation")
    return resolved


def update_target(
    rt: ResourceType, url_namespace: str | None, url_name: str | None, meta: Obj
) -> tuple[str | None, str]:
    """``(namespace, name)`` an update targets; 400 when body and URL disagree."""
    name = url_name or meta.get("name") or ""
    if url_name and meta.get("name") and meta["name"] != url_name:
        raise errors.BadRequest(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({url_name})"
        )
    if rt.namespaced and url_namespace and meta.get("namespace") and meta["namespace"] != url_namespace:
        body_namespace = meta["namespace"]
        raise errors.BadRequest(
            f"the namespace of the object ({body_namespace}) does not match the namespace on the URL ({url_namespace})"
        )
    if not name:
        raise errors.BadRequest("name is required for an update")
    return ((url_namespace or meta.get("namespace")) if rt.namespaced else None), name


def admit_create(state: ClusterState, rt: ResourceType, namespace: str | None, name: str) -> None:
    """Namespace lifecycle and CRD termination rules for a create."""
    if namespace is not None:
        ns = state.lookup(NAMESPACES.storage_key, ("", namespace))
        if ns is None:
            raise errors.NotFound(NAMESPACES.group_resource, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.Forbidden(
                rt.group_resource,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                causes=[
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )
    if rt.custom:
        crd = state.lookup(CRDS.storage_key, ("", f"{rt.plural}.{rt.group}"))
        if crd is not None and crd["metadata"].get("deletionTimestamp"):
            raise errors.MethodNotAllowed("create not allowed while custom resource definition is terminating")
