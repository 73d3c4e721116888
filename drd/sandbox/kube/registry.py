"""Which resources the emulated cluster serves: group, version, plural, kind, scope, subresources.

A :class:`ResourceType` says everything the store and the HTTP layer need to know
about one served group/version/resource; the :class:`Registry` holds the built-in
set (the resources drd and Velero touch) plus whatever ``CustomResourceDefinition``
objects register at run time. Objects are *stored* per ``(group, plural)``, not per
version, so a CRD serving several versions shares one collection (conversion
strategy ``None``: only ``apiVersion`` changes between versions).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from drd.sandbox.kube.deprecations import FLOWCONTROL_V1BETA3, Deprecation
from drd.sandbox.kube.errors import GroupKind, GroupResource

NameRule = Literal["subdomain", "label", "dns1035", "path"]
"""How ``metadata.name`` is validated: DNS-1123 subdomain (most), DNS-1123 label (namespaces),
DNS-1035 label (services), or path segment (RBAC)."""

ALL_VERBS: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """Where a ``scale`` subresource reads and writes replicas (the CRD ``subresources.scale`` block)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str | None = None
    """Path to a *string* selector (CRDs); ``None`` means: render ``.spec.selector`` (built-in workloads)."""


@dataclass(frozen=True, slots=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry: a column of ``kubectl get``'s table."""

    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One served group/version/resource."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    status_subresource: bool = False
    scale: ScaleSpec | None = None
    generation: bool = False
    """Whether ``metadata.generation`` is maintained (workloads, CRDs, every custom resource)."""
    custom: bool = False
    """Served because a CRD declares it."""
    name_rule: NameRule = "subdomain"
    printer_columns: tuple[PrinterColumn, ...] = ()
    return_deleted_object: bool = False
    """DELETE answers with the object (pods, namespaces...) rather than a ``Status`` of success."""
    deprecation: Deprecation | None = None
    """Set for a deprecated version: requests get a ``Warning`` header and are counted in
    ``apiserver_requested_deprecated_apis``; not served once the server's version reaches its removal."""

    @property
    def api_version(self) -> str:
        """``apps/v1``, or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> GroupResource:
        """``deployments.apps`` (what error messages name)."""
        return GroupResource(self.group, self.plural)

    @property
    def group_kind(self) -> GroupKind:
        """``Deployment.apps`` (what ``Invalid`` errors name)."""
        return GroupKind(self.group, self.kind)

    @property
    def storage_key(self) -> tuple[str, str]:
        """The collection this resource's objects live in, shared by all its versions."""
        return (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        """``DeploymentList``."""
        return f"{self.kind}List"

    @property
    def singular_name(self) -> str:
        """The singular name, defaulting to the lower-cased kind."""
        return self.singular or self.kind.lower()


_core = functools.partial(ResourceType, "", "v1")


def _apps(plural: str, kind: str, short: str, *, scale: bool = True) -> ResourceType:
    return ResourceType(
        "apps",
        "v1",
        plural,
        kind,
        True,
        short_names=(short,),
        categories=("all",),
        status_subresource=True,
        scale=ScaleSpec() if scale else None,
        generation=True,
    )


BUILTINS: tuple[ResourceType, ...] = (
    _core(
        "namespaces",
        "Namespace",
        False,
        short_names=("ns",),
        status_subresource=True,
        name_rule="label",
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        return_deleted_object=True,
    ),
    _core("configmaps", "ConfigMap", True, short_names=("cm",)),
    _core("secrets", "Secret", True),
    _core("serviceaccounts", "ServiceAccount", True, short_names=("sa",)),
    _core(
        "services",
        "Service",
        True,
        short_names=("svc",),
        categories=("all",),
        status_subresource=True,
        name_rule="dns1035",
        return_deleted_object=True,
    ),
    _core("endpoints", "Endpoints", True, short_names=("ep",)),
    _core("events", "Event", True, short_names=("ev",)),
    _core(
        "pods",
        "Pod",
        True,
        short_names=("po",),
        categories=("all",),
        status_subresource=True,
        return_deleted_object=True,
    ),
    _core("nodes", "Node", False, short_names=("no",), status_subresource=True),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", True, short_names=("pvc",), status_subresource=True),
    _core("persistentvolumes", "PersistentVolume", False, short_names=("pv",), status_subresource=True),
    _core("resourcequotas", "ResourceQuota", True, short_names=("quota",), status_subresource=True),
    _core("limitranges", "LimitRange", True, short_names=("limits",)),
    _apps("deployments", "Deployment", "deploy"),
    _apps("statefulsets", "StatefulSet", "sts"),
    _apps("daemonsets", "DaemonSet", "ds", scale=False),
    _apps("replicasets", "ReplicaSet", "rs"),
    ResourceType("batch", "v1", "jobs", "Job", True, categories=("all",), status_subresource=True, generation=True),
    ResourceType(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        True,
        short_names=("cj",),
        categories=("all",),
        status_subresource=True,
        generation=True,
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, short_names=("ev",)),
    ResourceType(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short_names=("netpol",), generation=True
    ),
    ResourceType(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        True,
        short_names=("ing",),
        status_subresource=True,
        generation=True,
    ),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        short_names=("pdb",),
        status_subresource=True,
        generation=True,
    ),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True, name_rule="path"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, name_rule="path"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, name_rule="path"),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, name_rule="path"
    ),
    ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, short_names=("sc",)),
    *(
        ResourceType(
            "flowcontrol.apiserver.k8s.io",
            version,
            plural,
            kind,
            False,
            status_subresource=True,
            generation=True,
            deprecation=FLOWCONTROL_V1BETA3 if version == "v1beta3" else None,
        )
        for version in ("v1", "v1beta3")
        for plural, kind in (
            ("flowschemas", "FlowSchema"),
            ("prioritylevelconfigurations", "PriorityLevelConfiguration"),
        )
    ),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        status_subresource=True,
        generation=True,
    ),
)

NAMESPACES = BUILTINS[0]
CRDS = BUILTINS[-1]

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in Kubernetes discovery order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others."""
    m = _VERSION_RE.match(version)
    if not m:
        return (3, 0, 0, version)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor, "")


@dataclass
class _Tables:
    """Immutable-by-replacement indexes, swapped atomically on every registry change."""

    by_gvr: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    order: list[ResourceType] = field(default_factory=list)


class Registry:
    """The set of served resources; safe to read from any thread while CRDs come and go."""

    def __init__(self, types: Iterable[ResourceType] = BUILTINS) -> None:
        self._lock = threading.Lock()
        self._tables = _Tables()
        self.register(types)

    def register(self, types: Iterable[ResourceType]) -> None:
        """Serve these resources (replacing any with the same group/version/plural)."""
        with self._lock:
            tables = _Tables(dict(self._tables.by_gvr), list(self._tables.order))
            for rt in types:
                key = (rt.group, rt.version, rt.plural)
                old = tables.by_gvr.get(key)
                if old is not None:
                    tables.order.remove(old)
                tables.by_gvr[key] = rt
                tables.order.append(rt)
            self._tables = tables

    def replace(self, group: str, plural: str, types: Iterable[ResourceType]) -> None:
        """Serve exactly ``types`` for ``plural.group`` (all its versions), in one atomic swap."""
        incoming = list(types)
        with self._lock:
            kept = [rt for rt in self._tables.order if rt.storage_key != (group, plural)]
            order = kept + incoming
            self._tables = _Tables({(rt.group, rt.version, rt.plural): rt for rt in order}, order)

    def unregister(self, group: str, plural: str) -> list[ResourceType]:
        """Stop serving every version of ``plural.group``; returns what was removed."""
        with self._lock:
            removed = [rt for rt in self._tables.order if rt.storage_key == (group, plural)]
            tables = _Tables(
                {k: v for k, v in self._tables.by_gvr.items() if v not in removed},
                [rt for rt in self._tables.order if rt not in removed],
            )
            self._tables = tables
            return removed

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The resource served at ``/apis/<group>/<version>/<plural>``, if any."""
        return self._tables.by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        """Every served group/version/resource, built-ins first."""
        return list(self._tables.order)

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        """Every served version of one resource, preferred version first."""
        found = [rt for rt in self._tables.order if rt.storage_key == (group, plural)]
        return sorted(found, key=lambda rt: version_priority(rt.version))

    def groups(self) -> list[tuple[str, list[str]]]:
        """``(group, versions)`` for every served group (core group excluded), versions preferred-first."""
        seen: dict[str, list[str]] = {}
        for rt in self._tables.order:
            if not rt.group:
                continue
            versions = seen.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        return [(g, sorted(vs, key=version_priority)) for g, vs in seen.items()]

    def resources(self, group: str, version: str) -> list[ResourceType]:
        """The resources of one group/version, in registration order."""
        return [rt for rt in self._tables.order if rt.group == group and rt.version == version]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """The resource serving ``kind`` objects at ``api_version`` (for owner references and manifests)."""
        group, _, version = api_version.rpartition("/")
        for rt in self._tables.order:
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def resolve(self, name: str) -> ResourceType | None:
        """Find a resource the way kubectl does: ``deployments``, ``deployments.apps``, ``deploy``, ``Deployment``.

        ``plural.group`` is exact; a bare name matches plural, singular, short name or kind,
        preferring the core group, then the preferred version.
        """
        order = self._tables.order
        candidates: list[ResourceType] = []
        for rt in order:
            qualified = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
            if name == qualified or (rt.group and name == f"{rt.plural}.{rt.version}.{rt.group}"):
                candidates.append(rt)
        if not candidates:
            lowered = name.lower()
            for rt in order:
                if lowered in (rt.plural, rt.singular_name) or lowered in rt.short_names or name == rt.kind:
                    candidates.append(rt)
        if not candidates:
            return None
        candidates.sort(key=lambda rt: (rt.group != "", version_priority(rt.version)))
        return candidates[0]
