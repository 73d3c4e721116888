"""BackupPolicy → Velero objects (pure): the Schedule that keeps backups happening, and on-demand Backups.

Velero keeps running the Schedule while drd is down, so backups never depend
on drd being up (issue 4). Everything here is a function of the policy and
its cluster:

* names: the Schedule is ``drd-<policy>`` (hashed like Velero's label values
  past 63 characters, because Velero copies it unhashed into the
  ``velero.io/schedule-name`` label, velero.md §5.14); Velero names what it
  generates ``drd-<policy>-<YYYYMMDDhhmmss>`` and on-demand backups use the
  same form;
* the schedule: cron in the policy's time zone becomes ``CRON_TZ=<zone> <cron>``
  (Velero's cron is UTC otherwise), macros are expanded, ``@every 7d``
  becomes Go's ``@every 168h0m0s``;
* the scope, translated to Velero's filters: a drd policy's empty
  ``includedNamespaces`` selects no namespace (unless a labelSelector is set),
  where Velero's empty list means *every* namespace.

:func:`problems` says when a policy cannot be expressed faithfully; the
renderers refuse such a policy rather than back up something else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from drd.errors import PermanentError
from drd.operations import labels
from drd.policy.models.backup import BackupPolicy, Scope
from drd.policy.models.cluster import Cluster
from drd.policy.schedule import Schedule, timezone_name
from drd.velero.vocabulary import API_VERSION, go_duration, valid_label_value

NAME_PREFIX = "drd-"
"""Every Velero object drd names starts with this."""

_ROBFIG_UNSUPPORTED = re.compile(r"#|(?<![a-z])l(?![a-z])|\dl", re.IGNORECASE)
"""``L`` and ``#`` (croniter accepts them; Velero's robfig/cron ParseStandard does not)."""


class UnsupportedPolicy(PermanentError):
    """The policy cannot be turned into a Velero object that does what it says."""


def problems(policy: BackupPolicy) -> list[str]:
    """Why ``policy`` cannot be rendered faithfully for Velero (empty when it can)."""
    scope = policy.spec.scope
    found: list[str] = []
    if scope.selects_nothing:
        found.append(
            "the scope selects nothing (see the policy's validation warning); drd creates no Schedule or Backup "
            "for it, because Velero would read an empty namespace list as every namespace"
        )
    elif not _namespaces(scope):
        found.append(
            "a scope of cluster-scoped resources only (no namespaces, no labelSelector) cannot be written with "
            'Velero\'s includedNamespaces; list the namespaces, or ["*"] for all'
        )
    cron = policy.spec.schedule.cron
    if policy.spec.schedule.every is None and cron is not None and _ROBFIG_UNSUPPORTED.search(cron):
        found.append(
            f'schedule "{policy.spec.schedule}" uses L or #, which Velero\'s cron parser does not accept; '
            "use plain cron fields"
        )
    return found


def schedule_name(policy: str) -> str:
    """``drd-<policy>``, kept a valid label value (Velero labels each generated Backup with it, unhashed)."""
    return valid_label_value(f"{NAME_PREFIX}{policy}")


def backup_name(policy: str, at: datetime) -> str:
    """``drd-<policy>-<YYYYMMDDhhmmss>`` (UTC), the form Velero gives scheduled backups."""
    return f"{NAME_PREFIX}{policy}-{at.astimezone(UTC):%Y%m%d%H%M%S}"


def velero_schedule(schedule: Schedule) -> str:
    """The ``spec.schedule`` Velero's robfig/cron understands: ``CRON_TZ=`` for zones, Go durations for ``@every``."""
    if schedule.every is not None:
        return f"@every {go_duration(schedule.every.total_seconds())}"
    assert schedule.cron is not None
    zone = timezone_name(schedule.timezone)
    return schedule.cron if zone == "UTC" else f"CRON_TZ={zone} {schedule.cron}"


def object_labels(policy: BackupPolicy, *, trigger: str) -> dict[str, str]:
    """The labels that make a Velero object attributable to ``policy``."""
    return {labels.MANAGED_BY: labels.MANAGER, labels.POLICY: policy.name, labels.TRIGGER: trigger}


def backup_spec(policy: BackupPolicy) -> dict[str, Any]:
    """Velero's BackupSpec for the policy: scope, ttl, storage location and volume handling.

    Raises :class:`UnsupportedPolicy` when :func:`problems` finds any.
    """
    found = problems(policy)
    if found:
        raise UnsupportedPolicy(f'backup policy "{policy.name}": ' + "; ".join(found))
    spec = policy.spec
    scope = spec.scope
    rendered: dict[str, Any] = {"includedNamespaces": _namespaces(scope)}
    if scope.excluded_namespaces:
        rendered["excludedNamespaces"] = list(scope.excluded_namespaces)
    if scope.included_resources:
        rendered["includedResources"] = list(scope.included_resources)
    if scope.excluded_resources:
        rendered["excludedResources"] = list(scope.excluded_resources)
    if scope.include_cluster_resources is not None:
        rendered["includeClusterResources"] = scope.include_cluster_resources
    if scope.label_selector is not None and not scope.label_selector.is_empty:
        rendered["labelSelector"] = scope.label_selector.to_kubernetes()
    rendered |= {
        "ttl": go_duration(spec.ttl.total_seconds()),
        "storageLocation": spec.storage_location,
        "defaultVolumesToFsBackup": spec.volumes.fs_backup,
        "snapshotVolumes": spec.volumes.snapshot_volumes,
        "snapshotMoveData": spec.volumes.snapshot_move_data,
    }
    return rendered


def schedule_for(policy: BackupPolicy, cluster: Cluster) -> dict[str, Any]:
    """The Velero Schedule ``drd-<policy>`` in the cluster's Velero namespace.

    Its template labels every generated Backup with the policy and
    ``drd.dev/trigger: schedule``; ``useOwnerReferencesInBackup`` is false so
    that deleting the Schedule never garbage-collects Backup objects.
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "Schedule",
        "metadata": {
            "name": schedule_name(policy.name),
            "namespace": cluster.spec.velero_namespace,
            "labels": {labels.MANAGED_BY: labels.MANAGER, labels.POLICY: policy.name},
        },
        "spec": {
            "schedule": velero_schedule(policy.spec.schedule),
            "template": {
                "metadata": {"labels": object_labels(policy, trigger=labels.SCHEDULE_TRIGGER)},
                **backup_spec(policy),
            },
            "paused": False,
            "useOwnerReferencesInBackup": False,
        },
    }


def backup_for(policy: BackupPolicy, cluster: Cluster, *, name: str, trigger: str) -> dict[str, Any]:
    """An on-demand Backup with the policy's scope, labelled with the policy and ``drd.dev/trigger: <trigger>``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Backup",
        "metadata": {
            "name": name,
            "namespace": cluster.spec.velero_namespace,
            "labels": object_labels(policy, trigger=trigger),
        },
        "spec": backup_spec(policy),
    }


def _namespaces(scope: Scope) -> list[str]:
    """Velero's includedNamespaces for a drd scope; empty only when the scope names no namespace at all.

    ``["*"]`` stays ``["*"]``; an empty list with a labelSelector means the
    labelled objects of every namespace, so ``["*"]``. Names also listed as
    excluded are dropped (Velero refuses an exclusion that repeats an inclusion).
    """
    if "*" in scope.included_namespaces:
        return ["*"]
    if not scope.included_namespaces:
        return ["*"] if scope.label_selector is not None else []
    excluded = set(scope.excluded_namespaces)
    return [namespace for namespace in scope.included_namespaces if namespace not in excluded]
