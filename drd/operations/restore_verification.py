"""Object-level proof of a restore: is every object the backup held, that the restore should bring back, there?

Velero's ``<b>-resource-list.json.gz`` names what a backup holds
(``"apps/v1/Deployment" → ["shop/storefront"]``, fetched with
:func:`drd.operations.velero_downloads.backup_resource_list`).
:func:`expected_objects` turns it into what a restore of it should create
(pure), following Velero's restore (velero.md §1.2, §5):

* namespaced objects move through ``namespaceMapping`` (``shop/storefront`` →
  ``drill-shop/storefront``), and so do Namespace objects themselves;
* objects of namespaces the restore does not include are not expected
  (``includedNamespaces``/``excludedNamespaces``, v1.18 globs);
* cluster-scoped objects are expected only when the restore includes cluster
  resources: ``includeClusterResources: true``, or unset with every namespace
  included;
* never expected: Velero's ``nonRestorableResources`` (nodes, events, Velero's
  own backups and restores…, :data:`NON_RESTORABLE_KINDS`), and
  PersistentVolumes, which file-system and CSI backups re-provision from their
  claims under new names (§5.5).

Some expected objects may be absent after a correct restore
(:data:`MAY_BE_REPLACED`): Velero skips completed Pods and Jobs, and
controllers replace the Pods, Jobs and EndpointSlices they manage once
restored objects have lost their ownerReferences (§5.3). Their absence is
reported as *tolerated*, not *missing*. What a resource list cannot show is not
checked: a restore's label selectors and resource filters, and whether an
object equals the backed-up version (an existing object Velero skipped is
found; :func:`drd.operations.velero_downloads.skipped_existing` tells which).

:func:`present_objects` asks the cluster with one LIST per (resource type,
namespace), kinds resolved through discovery once per client, never one GET
per object. Objects being deleted count as absent: they will not stay.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import Resource
from drd.operations import objects
from drd.operations.velero_downloads import split_outcome
from drd.velero.selection import NamespaceFilter

NON_RESTORABLE_KINDS: Mapping[str, tuple[str, str]] = {
    "nodes": ("", "Node"),
    "events": ("", "Event"),
    "events.events.k8s.io": ("events.k8s.io", "Event"),
    "backups.velero.io": ("velero.io", "Backup"),
    "restores.velero.io": ("velero.io", "Restore"),
    "resticrepositories.velero.io": ("velero.io", "ResticRepository"),
    "csinodes.storage.k8s.io": ("storage.k8s.io", "CSINode"),
    "volumeattachments.storage.k8s.io": ("storage.k8s.io", "VolumeAttachment"),
    "backuprepositories.velero.io": ("velero.io", "BackupRepository"),
}
"""Velero's ``nonRestorableResources`` (§1.2) as the (group, Kind) a resource list names them by."""

REPROVISIONED_KINDS = frozenset({("", "PersistentVolume")})
"""Recreated by the restore under other names (dynamic provisioning from the restored claim), when at all."""

MAY_BE_REPLACED = frozenset({("", "Pod"), ("batch", "Job"), ("discovery.k8s.io", "EndpointSlice")})
"""(group, Kind) whose restored objects may be skipped by Velero (completed Pods and Jobs) or replaced under
new names by the controllers that manage them: absent ones are tolerated, not missing."""

NON_RESTORABLE = "non-restorable (Velero never restores it)"
NAMESPACE_NOT_RESTORED = "its namespace is not restored"
CLUSTER_SCOPED_NOT_RESTORED = "cluster-scoped, and the restore does not include cluster resources"
REPROVISIONED = "re-provisioned under another name (PersistentVolume)"

DEFAULT_CONCURRENCY = 8
"""LISTs in flight at once: a restore into hundreds of namespaces needs thousands, each a round trip."""

_NON_RESTORABLE = frozenset(NON_RESTORABLE_KINDS.values())


class ObjectKey(NamedTuple):
    """One object as a resource list names it, in the restored cluster."""

    api_version: str
    kind: str
    namespace: str
    """Empty for cluster-scoped objects."""
    name: str

    @property
    def gvk(self) -> str:
        """``apps/v1/Deployment``, the resource list's key; core kinds are ``v1/Pod``."""
        return f"{self.api_version}/{self.kind}"

    def __str__(self) -> str:
        return f"{self.gvk} {self.namespace}/{self.name}" if self.namespace else f"{self.gvk} {self.name}"


@dataclass(frozen=True, slots=True)
class KindTally:
    """Expected and found objects of one ``group/version/Kind``."""

    expected: int
    found: int

    @property
    def absent(self) -> int:
        """Expected but not found (missing or tolerated)."""
        return self.expected - self.found


@dataclass(frozen=True, slots=True)
class ObjectsReport:
    """What :func:`verify_objects` found. ``found + len(missing) + len(tolerated) == expected``."""

    expected: int
    found: int
    missing: list[str]
    """Expected objects absent from the cluster, sorted (``apps/v1/Deployment drill-shop/storefront``)."""
    tolerated: list[str] = field(default_factory=list)
    """Absent objects of :data:`MAY_BE_REPLACED` kinds."""
    extra: list[str] = field(default_factory=list)
    """Objects of the backed-up kinds in the restored namespaces that the backup did not hold (informative)."""
    by_kind: dict[str, KindTally] = field(default_factory=dict)
    not_expected: dict[str, int] = field(default_factory=dict)
    """Backed-up objects the restore does not bring back, counted by reason."""
    unserved: list[str] = field(default_factory=list)
    """Backed-up kinds the cluster does not serve (a CRD not installed there): their objects are missing."""
    velero_outcomes: dict[str, str] = field(default_factory=dict)
    """For missing objects, what the restore's resource list says Velero did (``failed``, ``skipped``…)."""

    @property
    def complete(self) -> bool:
        """Nothing expected is missing (tolerated absences allowed)."""
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for evidence and logs."""
        return {
            "expected": self.expected,
            "found": self.found,
            "missing": list(self.missing),
            "tolerated": list(self.tolerated),
            "extra": list(self.extra),
            "by_kind": {kind: {"expected": t.expected, "found": t.found} for kind, t in self.by_kind.items()},
            "not_expected": dict(self.not_expected),
            "unserved": list(self.unserved),
            "velero_outcomes": dict(self.velero_outcomes),
        }


# -- what a restore should bring back (pure) ------------------------------------------------------


def expected_objects(
    resource_list: Mapping[str, Iterable[str]],
    *,
    namespace_mapping: Mapping[str, str] | None = None,
    included_namespaces: Iterable[str] | None = None,
    excluded_namespaces: Iterable[str] | None = None,
    include_cluster_resources: bool | None = None,
) -> set[ObjectKey]:
    """The objects a restore with these options creates from a backup of ``resource_list``, where they land.

    The options are the Restore's ``spec`` fields of the same names (``None``
    or empty included namespaces: all). See the module docstring for what is
    not expected, and why.
    """
    expected, _ = _expectation(
        resource_list,
        namespace_mapping=namespace_mapping or {},
        namespaces=NamespaceFilter(included_namespaces, excluded_namespaces),
        include_cluster_resources=include_cluster_resources,
    )
    return expected


def _expectation(
    resource_list: Mapping[str, Iterable[str]],
    *,
    namespace_mapping: Mapping[str, str],
    namespaces: NamespaceFilter,
    include_cluster_resources: bool | None,
) -> tuple[set[ObjectKey], Counter[str]]:
    cluster_scoped = include_cluster_resources if include_cluster_resources is not None else namespaces.all_namespaces
    expected: set[ObjectKey] = set()
    not_expected: Counter[str] = Counter()
    for gvk, entries in resource_list.items():
        api_version, _, kind = gvk.rpartition("/")
        group = api_version.rpartition("/")[0]
        listed = list(entries)
        if (group, kind) in _NON_RESTORABLE:
            not_expected[NON_RESTORABLE] += len(listed)
            continue
        for entry in listed:
            namespace, _, name = entry.rpartition("/")
            if namespace:
                if not namespaces.matches(namespace):
                    not_expected[NAMESPACE_NOT_RESTORED] += 1
                else:
                    expected.add(ObjectKey(api_version, kind, namespace_mapping.get(namespace, namespace), name))
            elif (group, kind) == ("", "Namespace"):
                if not namespaces.matches(name):
                    not_expected[NAMESPACE_NOT_RESTORED] += 1
                else:
                    expected.add(ObjectKey(api_version, kind, "", namespace_mapping.get(name, name)))
            elif (group, kind) in REPROVISIONED_KINDS:
                not_expected[REPROVISIONED] += 1
            elif not cluster_scoped:
                not_expected[CLUSTER_SCOPED_NOT_RESTORED] += 1
            else:
                expected.add(ObjectKey(api_version, kind, "", name))
    return expected, not_expected


# -- what the cluster holds -----------------------------------------------------------------------

_Group = tuple[str, str, str]
"""(apiVersion, kind, namespace): what one LIST answers."""


def present_objects(
    kube: KubeClient, keys: Iterable[ObjectKey], *, concurrency: int = DEFAULT_CONCURRENCY
) -> set[ObjectKey]:
    """Those of ``keys`` that exist in the cluster (and are not being deleted).

    One LIST per (type, namespace), ``concurrency`` of them at a time.
    """
    groups = _grouped(keys)
    live, _ = _live_names(kube, groups, concurrency=concurrency)
    return {ObjectKey(*group, name) for group, names in groups.items() for name in names & live.get(group, frozenset())}


def verify_objects(
    kube: KubeClient,
    resource_list: Mapping[str, Iterable[str]],
    *,
    namespace_mapping: Mapping[str, str] | None = None,
    included_namespaces: Iterable[str] | None = None,
    excluded_namespaces: Iterable[str] | None = None,
    include_cluster_resources: bool | None = None,
    restored: Mapping[str, Iterable[str]] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ObjectsReport:
    """Compare what a restore should have created (see :func:`expected_objects`) with what the cluster holds.

    ``restored``, the restore's own resource list
    (:func:`~drd.operations.velero_downloads.restore_resource_list`), adds
    Velero's per-item outcome to each missing object.
    """
    expected, not_expected = _expectation(
        resource_list,
        namespace_mapping=namespace_mapping or {},
        namespaces=NamespaceFilter(included_namespaces, excluded_namespaces),
        include_cluster_resources=include_cluster_resources,
    )
    groups = _grouped(expected)
    live, unserved = _live_names(kube, groups, concurrency=concurrency)
    missing: list[ObjectKey] = []
    tolerated: list[ObjectKey] = []
    extra: list[ObjectKey] = []
    tallies: dict[str, list[int]] = {}
    for group, names in groups.items():
        api_version, kind, namespace = group
        alive = live.get(group, frozenset())
        absent = names - alive
        tally = tallies.setdefault(f"{api_version}/{kind}", [0, 0])
        tally[0] += len(names)
        tally[1] += len(names) - len(absent)
        may_go = (api_version.rpartition("/")[0], kind) in MAY_BE_REPLACED
        (tolerated if may_go else missing).extend(ObjectKey(*group, name) for name in absent)
        if namespace:
            extra.extend(ObjectKey(*group, name) for name in alive - names)
    return ObjectsReport(
        expected=len(expected),
        found=sum(t[1] for t in tallies.values()),
        missing=sorted(str(k) for k in missing),
        tolerated=sorted(str(k) for k in tolerated),
        extra=sorted(str(k) for k in extra),
        by_kind={kind: KindTally(*tallies[kind]) for kind in sorted(tallies)},
        not_expected=dict(sorted(not_expected.items())),
        unserved=sorted(unserved),
        velero_outcomes=_outcomes(restored, missing) if restored else {},
    )


def _grouped(keys: Iterable[ObjectKey]) -> dict[_Group, set[str]]:
    groups: dict[_Group, set[str]] = {}
    for key in keys:
        groups.setdefault((key.api_version, key.kind, key.namespace), set()).add(key.name)
    return groups


def _live_names(
    kube: KubeClient, groups: Iterable[_Group], *, concurrency: int
) -> tuple[dict[_Group, frozenset[str]], set[str]]:
    """The names present per group (one LIST each), and the kinds the cluster does not serve."""
    todo: list[tuple[_Group, Resource]] = []
    unserved: set[str] = set()
    for group in groups:
        api_version, kind, namespace = group
        try:
            resource = objects.resource_for(kube, api_version, kind)
        except objects.UnknownKind:
            unserved.add(f"{api_version}/{kind}")
            continue
        if resource.namespaced == bool(namespace):  # otherwise the list and the cluster disagree: nothing matches
            todo.append((group, resource))

    def names(job: tuple[_Group, Resource]) -> tuple[_Group, frozenset[str]]:
        group, resource = job
        listing = kube.list_objects(resource, namespace=group[2] or None)
        alive = (o["metadata"]["name"] for o in listing.items if not o["metadata"].get("deletionTimestamp"))
        return group, frozenset(alive)

    if concurrency <= 1 or len(todo) <= 1:
        return dict(map(names, todo)), unserved
    with ThreadPoolExecutor(max_workers=min(concurrency, len(todo)), thread_name_prefix="drd-verify") as pool:
        return dict(pool.map(names, todo)), unserved


def _outcomes(restored: Mapping[str, Iterable[str]], missing: list[ObjectKey]) -> dict[str, str]:
    """Velero's outcome for each missing object the restore's resource list mentions."""
    said: dict[str, str] = {}
    for gvk, entries in restored.items():
        for entry in entries:
            item, outcome = split_outcome(entry)
            said[f"{gvk} {item}"] = outcome
    return {str(key): said[str(key)] for key in sorted(missing) if str(key) in said}
