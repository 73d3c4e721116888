"""What the cluster serves: every listable resource at its preferred version, as Velero discovers it."""

from __future__ import annotations

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import Resource


def served_resources(kube: KubeClient) -> list[Resource]:
    """Every resource (no subresources) that supports list, at its group's preferred version."""
    resources: list[Resource] = []
    core = kube.get_path("/api/v1")
    resources += _from_listing("", "v1", core)
    groups = kube.get_path("/apis")
    for group in groups.get("groups", []):
        preferred = (group.get("preferredVersion") or {}).get("version") or group["versions"][0]["version"]
        listing = kube.get_path(f"/apis/{group['name']}/{preferred}")
        resources += _from_listing(group["name"], preferred, listing)
    return resources


def _from_listing(group: str, version: str, listing: dict[str, object]) -> list[Resource]:
    found = []
    for entry in listing.get("resources", []) or []:  # type: ignore[attr-defined]
        name = str(entry.get("name", ""))
        if "/" in name or "list" not in (entry.get("verbs") or []):
            continue
        found.append(Resource(group, version, name, str(entry.get("kind", "")), bool(entry.get("namespaced"))))
    return found


def by_group_resource(resources: list[Resource]) -> dict[str, Resource]:
    """Index by Velero's ``plural.group`` naming."""
    return {r.group_resource: r for r in resources}
