"""The built-in cross-document checks: references resolve, and what they resolve to is safe to use.

Errors (loading fails):

* a backup policy's cluster, a drill's backup policy and target are defined;
* a drill never targets a cluster whose role forbids drills (``primary``), nor
  the backup's own source cluster: a drill proves recovery *elsewhere*;
* drill namespaces fit Kubernetes' 63 characters; a check's namespace is one
  the backup restores, and single-namespace checks know which namespace to use;
* two inventory entries never reach the same cluster (same context or two
  ``inCluster``), which would let a drill land on a primary under another name.

Warnings (loading succeeds): a scope that selects nothing, retention longer
than the TTL, an RPO with little headroom over the backup interval, a drill
in the source's own region, volume snapshots a cross-region drill cannot
restore, a drill without checks or without network isolation, a quota without
a LimitRange, an unpinned check image, an environment value that looks secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from drd.policy.catalog import Catalog, D, Finding, error, warning
from drd.policy.durations import format_duration
from drd.policy.locations import Loc
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.checks import ExecCheck, HttpCheck, JobCheck, TcpCheck
from drd.policy.models.cluster import Cluster, Role
from drd.policy.models.drill import DrillPolicy
from drd.policy.schedule import interval_hint

_SECRET_LIKE = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE", re.IGNORECASE)
_SINGLE_NAMESPACE_CHECKS = (HttpCheck, TcpCheck, ExecCheck, JobCheck)


def check_cluster(cluster: Cluster, catalog: Catalog) -> Iterator[Finding]:
    """Two inventory entries must not reach the same cluster; reported on the one loaded later."""
    connection = cluster.spec.connection
    for other in catalog.of_kind(Cluster).values():
        if other is cluster:
            break
        theirs = other.spec.connection
        same_context = (connection.kubeconfig, connection.context) == (theirs.kubeconfig, theirs.context)
        if connection.in_cluster and theirs.in_cluster:
            yield error(
                ("spec", "connection", "inCluster"),
                f'cluster "{other.name}" is already the in-cluster one; '
                "only the cluster drd runs in can be reached that way",
            )
        elif not connection.in_cluster and same_context:
            yield error(
                ("spec", "connection", "context"),
                f'cluster "{other.name}" already uses context '
                f'"{connection.context}": two names for one cluster could let a drill land on a primary',
            )


def check_backup_policy(policy: BackupPolicy, catalog: Catalog) -> Iterator[Finding]:
    """The source cluster exists; the scope, retention and RPO make sense together."""
    spec = policy.spec
    yield from _undefined(catalog, Cluster, spec.cluster, ("spec", "cluster"))
    if spec.scope.selects_nothing:
        yield warning(
            ("spec", "scope"),
            'selects nothing: list includedNamespaces (["*"] for all), '
            "set a labelSelector or includeClusterResources: true",
        )
    if spec.retention.span > spec.ttl:
        yield warning(
            ("spec", "retention"),
            f"keeps backups for up to {format_duration(spec.retention.span)} but "
            f"ttl {format_duration(spec.ttl)} deletes them sooner; raise ttl or lower retention",
        )
    gap = interval_hint(spec.schedule)
    if gap <= spec.objectives.rpo < gap * 5 / 4:
        yield warning(
            ("spec", "objectives", "rpo"),
            f"rpo {format_duration(spec.objectives.rpo)} leaves little "
            f"room over the {format_duration(gap)} between backups: the time a backup takes, or one "
            "failed run, breaches it",
        )


def check_drill_policy(drill: DrillPolicy, catalog: Catalog) -> Iterator[Finding]:
    """The backup policy and target exist, the target may be drilled into, and the checks can find their namespaces."""
    spec = drill.spec
    yield from _undefined(catalog, BackupPolicy, spec.backup_policy, ("spec", "backupPolicy"))
    yield from _undefined(catalog, Cluster, spec.target, ("spec", "target"))
    target = catalog.get(Cluster, spec.target)
    backup = catalog.get(BackupPolicy, spec.backup_policy)
    if target is not None and not target.allows_drills:
        allowed = ", ".join(role for role in Role if role.allows_drills)
        yield error(
            ("spec", "target"),
            f'cluster "{target.name}" has role {target.spec.role}; drills only target clusters with role {allowed}',
        )
    if backup is not None:
        yield from _against_backup(drill, backup, target, catalog.get(Cluster, backup.spec.cluster))
    if not spec.verify:
        yield warning(
            ("spec", "verify"), "no checks: the drill proves the restore completed, not that the application works"
        )
    if not spec.isolation.deny_network:
        yield warning(
            ("spec", "isolation", "denyNetwork"),
            "restored workloads can reach other namespaces and "
            "the network, so a restored consumer may act on live systems",
        )
    if spec.isolation.resource_quota and not spec.isolation.limit_range:
        yield warning(
            ("spec", "isolation", "limitRange"),
            "a resourceQuota without a limitRange rejects restored pods that declare no resource requests",
        )
    for index, check in enumerate(spec.verify):
        if isinstance(check, JobCheck):
            yield from _job_warnings(check, ("spec", "verify", index))


def _against_backup(
    drill: DrillPolicy, backup: BackupPolicy, target: Cluster | None, source: Cluster | None
) -> Iterator[Finding]:
    spec = drill.spec
    if target is not None and target.name == backup.spec.cluster:
        yield error(
            ("spec", "target"),
            f'cluster "{target.name}" is the source of backup policy "{backup.name}"; '
            "a drill must restore into another cluster",
        )
    elif target is not None and source is not None:
        if target.spec.region == source.spec.region:
            yield warning(
                ("spec", "target"),
                f'cluster "{target.name}" is in {target.spec.region} like the source '
                f'"{source.name}": the drill does not prove recovery from a regional outage',
            )
        elif backup.spec.volumes.region_bound:
            yield warning(
                ("spec", "target"),
                f'backup policy "{backup.name}" keeps volume data only as snapshots '
                f"in {source.spec.region}, which cannot be restored in {target.spec.region}; set "
                "volumes.fsBackup or volumes.snapshotMoveData",
            )
    restored = backup.spec.scope.restored_namespaces
    for namespace in restored or ():
        drill_namespace = spec.isolation.namespace_for(namespace)
        if len(drill_namespace) > 63:
            yield error(
                ("spec", "isolation", "namespacePrefix"),
                f'drill namespace "{drill_namespace}" is longer than 63 characters; shorten the prefix',
            )
    for index, check in enumerate(spec.verify):
        where: Loc = ("spec", "verify", index)
        if check.namespace is not None and restored is not None and check.namespace not in restored:
            yield error(
                (*where, "namespace"),
                f'namespace "{check.namespace}" is not restored by backup policy '
                f'"{backup.name}" (it restores: {", ".join(restored) or "no namespace"})',
            )
        elif check.namespace is None and isinstance(check, _SINGLE_NAMESPACE_CHECKS):
            if restored is None:
                yield error(
                    where,
                    f'needs a namespace: backup policy "{backup.name}" chooses its namespaces by '
                    "glob or label selector",
                )
            elif len(restored) != 1:
                yield error(
                    where,
                    f'needs a namespace: backup policy "{backup.name}" restores '
                    f"{', '.join(restored) or 'no namespace'}",
                )


def _job_warnings(check: JobCheck, where: Loc) -> Iterator[Finding]:
    if not check.pinned:
        yield warning(
            (*where, "image"),
            f'image "{check.image}" is not pinned to a tag or digest, so the check may change between drills',
        )
    for key in check.env:
        if _SECRET_LIKE.search(key):
            yield warning(
                (*where, "env", key),
                "looks like a secret: keep it in a Secret restored with the "
                "application and list that Secret in envFromSecrets",
            )


def _undefined(catalog: Catalog, model: type[D], name: str, path: Loc) -> Iterator[Finding]:
    if catalog.get(model, name) is not None or catalog.is_invalid(model, name):
        return
    known = ", ".join(sorted(catalog.of_kind(model))) or "none"
    if model is Cluster:
        yield error(path, f'cluster "{name}" is not in the inventory (known: {known})')
    else:
        yield error(path, f'{model.kind_name()} "{name}" is not defined (known: {known})')
