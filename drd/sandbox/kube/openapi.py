"""A skeletal OpenAPI v3 publication: enough for kubectl to trust server-side field validation.

``kubectl apply`` / ``create -f`` validate manifests before sending them. kubectl
first asks ``/openapi/v3`` whether the server supports the ``fieldValidation``
query parameter on the PATCH operation of the object's kind; if it does, kubectl
leaves validation to the server, otherwise it validates client-side against the
full schemas (and fails when it cannot download them). The emulator therefore
publishes, per group/version, one PATCH operation per kind carrying
``x-kubernetes-group-version-kind`` and the ``fieldValidation`` parameter — and no
schemas. Strategic merge is deliberately *not* advertised, so kubectl computes
its apply patches from its compiled-in types (built-ins) or as JSON merge
patches (custom resources), exactly as it does against real clusters.
``kubectl explain`` needs the schemas and does not work. ``/openapi/v2`` is 404.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from drd.sandbox.kube.registry import Registry, ResourceType

Obj = dict[str, Any]

_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def group_versions(registry: Registry) -> list[tuple[str, str]]:
    """Every served ``(group, version)``, core first."""
    seen: list[tuple[str, str]] = []
    for rt in registry.all():
        if (rt.group, rt.version) not in seen:
            seen.append((rt.group, rt.version))
    return seen


def _operation(rt: ResourceType) -> Obj:
    return {
        "operationId": f"patch{rt.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "parameters": [
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ],
        "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES}, "required": True},
        "responses": {"200": {"description": "OK"}},
    }


def group_version_document(registry: Registry, group: str, version: str) -> Obj | None:
    """``/openapi/v3/api/v1`` or ``/openapi/v3/apis/<group>/<version>``; ``None`` if not served."""
    types = registry.resources(group, version)
    if not types:
        return None
    prefix = "/" + _gv_path(group, version)
    paths: Obj = {}
    for rt in types:
        scope = "/namespaces/{namespace}" if rt.namespaced else ""
        paths[f"{prefix}{scope}/{rt.plural}/{{name}}"] = {"patch": _operation(rt)}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _digest(document: Obj) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()


def root_document(registry: Registry) -> Obj:
    """``/openapi/v3``: the index of group/version documents, with content hashes for client caches."""
    paths: Obj = {}
    for group, version in group_versions(registry):
        document = group_version_document(registry, group, version)
        if document is not None:
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_digest(document)}"}
    return {"paths": paths}


def document(registry: Registry, path: str) -> Obj | None:
    """The document for an ``/openapi/...`` URL path, or ``None`` (404)."""
    segments = [s for s in path.split("/") if s]
    if segments[:2] != ["openapi", "v3"]:
        return None
    rest = segments[2:]
    if not rest:
        return root_document(registry)
    if len(rest) == 2 and rest[0] == "api":
        return group_version_document(registry, "", rest[1])
    if len(rest) == 3 and rest[0] == "apis":
        return group_version_document(registry, rest[1], rest[2])
    return None
