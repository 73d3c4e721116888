"""Discovery documents: ``/version``, ``/api``, ``/apis``, and per group/version resource lists.

These are what the DynamicClient and kubectl read to learn which resources
exist, their kinds, scopes, verbs, short names and subresources. The emulator
serves the *legacy* (unaggregated) form only; a client asking for aggregated
discovery (``as=APIGroupDiscoveryList``) also accepts ``application/json`` and so
falls back to it, as it does against clusters older than 1.26.
"""

from __future__ import annotations

import hashlib
from typing import Any

from drd.sandbox.kube.registry import SUBRESOURCE_VERBS, Registry, ResourceType

Obj = dict[str, Any]


def version_info(git_version: str) -> Obj:
    """The ``/version`` document for a server reporting ``git_version`` (e.g. ``v1.31.4``)."""
    major, minor = git_version.lstrip("v").split(".")[:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": hashlib.sha1(git_version.encode(), usedforsecurity=False).hexdigest(),
        "gitTreeState": "clean",
        "buildDate": "2024-12-10T11:38:38Z",
        "goVersion": "go1.22.9",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> Obj:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> Obj:
    """``/apis``: every named group with its versions, preferred first."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in registry.groups()],
    }


def api_group(registry: Registry, group: str) -> Obj | None:
    """``/apis/<group>``, or ``None`` if the group is not served."""
    for name, versions in registry.groups():
        if name == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}
    return None


def _resource_entries(rt: ResourceType) -> list[Obj]:
    entry: Obj = {
        "name": rt.plural,
        "singularName": rt.singular_name,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.plural}".encode()).digest()
    entry["storageVersionHash"] = digest[:8].hex()
    entries = [entry]
    base = {"singularName": "", "namespaced": rt.namespaced}
    if rt.plural == "namespaces" and not rt.group:
        entries.append({"name": "namespaces/finalize", **base, "kind": rt.kind, "verbs": ["update"]})
    if rt.plural == "pods" and not rt.group:
        entries.append({"name": "pods/log", **base, "kind": "Pod", "verbs": ["get"]})
        entries.append({"name": "pods/exec", **base, "kind": "PodExecOptions", "verbs": ["create", "get"]})
        eviction = {"group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}
        entries.append({"name": "pods/eviction", **base, **eviction})
    if rt.status_subresource:
        entries.append({"name": f"{rt.plural}/status", **base, "kind": rt.kind, "verbs": list(SUBRESOURCE_VERBS)})
    if rt.scale is not None:
        entries.append(
            {
                "name": f"{rt.plural}/scale",
                **base,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": list(SUBRESOURCE_VERBS),
            }
        )
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> Obj | None:
    """``/api/v1`` or ``/apis/<group>/<version>``, or ``None`` if that group/version is not served."""
    types = registry.resources(group, version)
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rt in types for entry in _resource_entries(rt)],
    }
