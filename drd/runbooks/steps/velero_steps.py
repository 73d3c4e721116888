"""Velero steps: find, list, back up, restore, wait, and flip a storage location's access mode.

Backups and Restores are named by the step's idempotency key, so a step
interrupted by a crash *adopts* the object its first attempt created when it
runs again: one restore, never two.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from drd.clients.errors import KubeAlreadyExists
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_RESTORES, VELERO_STORAGE_LOCATIONS
from drd.errors import PermanentError
from drd.operations import backup_manifests, restores, velero, waiting
from drd.operations.labels import POLICY, TRIGGER
from drd.runbooks.engine.actions import ActionResult, PlannedStep, StepCall
from drd.velero.timefmt import parse_rfc3339
from drd.velero.vocabulary import BackupPhase, RestorePhase, go_duration

RUNBOOK_TRIGGER = "runbook"


def _backup_facts(backup: dict[str, Any], now: datetime) -> dict[str, Any]:
    status = backup.get("status") or {}
    taken = parse_rfc3339(status.get("startTimestamp")) or parse_rfc3339(status.get("completionTimestamp"))
    return {
        "name": backup["metadata"]["name"],
        "phase": status.get("phase") or "",
        "completedAt": status.get("completionTimestamp") or "",
        "ageSeconds": round((now - taken).total_seconds(), 3) if taken else None,
        "storageLocation": (backup.get("spec") or {}).get("storageLocation") or "",
        "policy": (backup["metadata"].get("labels") or {}).get(POLICY, ""),
    }


class FindBackup:
    """The newest restorable backup of a policy in a cluster (or a named one, checked)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        namespace = call.env.velero_namespace(i.cluster)
        now = call.env.clock.now()
        if i.backup in ("", "latest"):
            found = restores.newest_restorable_backup(
                kube, policy=i.policy, namespace=namespace, allow_partially_failed=i.allow_partially_failed
            )
            if found is None:
                raise PermanentError(
                    f"{i.cluster}: no restorable backup of policy {i.policy!r} in namespace {namespace} "
                    "(none Completed, or not synced from the bucket yet)"
                )
        else:
            found = kube.find(VELERO_BACKUPS, i.backup, namespace=namespace)
            if found is None:
                raise PermanentError(f"{i.cluster}: backup {i.backup!r} does not exist in namespace {namespace}")
            allowed = {BackupPhase.COMPLETED} | ({BackupPhase.PARTIALLY_FAILED} if i.allow_partially_failed else set())
            phase = (found.get("status") or {}).get("phase")
            if phase not in allowed:
                raise PermanentError(f"{i.cluster}: backup {i.backup!r} is {phase or 'New'}: it cannot be restored")
        facts = _backup_facts(found, now)
        limit = i.max_age.total_seconds() if i.max_age is not None else None
        if limit is not None and facts["ageSeconds"] is not None and facts["ageSeconds"] > limit:
            raise PermanentError(
                f"{i.cluster}: the newest usable backup {facts['name']} is {facts['ageSeconds']:.0f}s old, "
                f"older than maxAge {limit:.0f}s"
            )
        return ActionResult(facts)

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "reads backups")


class ListBackups:
    """The backups in a cluster (of one policy, when given), newest first."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        namespace = call.env.velero_namespace(i.cluster)
        if i.policy:
            items = velero.policy_backups(kube, i.policy, namespace=namespace)
        else:
            items = kube.list_objects(VELERO_BACKUPS, namespace=namespace).items
        now = call.env.clock.now()
        facts = sorted((_backup_facts(b, now) for b in items), key=lambda f: f["completedAt"], reverse=True)
        return ActionResult({"backups": facts, "count": len(facts)})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "reads backups")


class CreateBackup:
    """An on-demand Backup with a policy's scope (or given namespaces), named by the step key; waits for it."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        namespace = call.env.velero_namespace(i.cluster)
        manifest = self._manifest(call)
        with contextlib.suppress(KubeAlreadyExists):  # made by an earlier attempt of this very step: adopt it
            velero.create_backup(kube, manifest, namespace=namespace)
        if not i.wait:
            return ActionResult({"name": call.key, "phase": "New", "itemsBackedUp": 0})
        done = velero.wait_for_backup(kube, call.key, namespace=namespace, timeout_seconds=call.timeout_seconds)
        status = done.get("status") or {}
        phase = status.get("phase") or ""
        result = {
            "name": call.key,
            "phase": phase,
            "itemsBackedUp": int((status.get("progress") or {}).get("itemsBackedUp") or 0),
        }
        if phase != BackupPhase.COMPLETED:
            raise PermanentError(
                f"{i.cluster}: backup {call.key} ended {phase}: {status.get('failureReason') or 'see velero logs'}"
            )
        return ActionResult(result)

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        namespace = call.env.velero_namespace(i.cluster)
        manifest = self._manifest(call)
        scope = manifest["spec"].get("includedNamespaces") or ["*"]
        return PlannedStep(
            "simulated",
            f"would back up namespaces {', '.join(scope)} and wait",
            (f"create Backup {namespace}/{call.key} in {i.cluster}",),
        )

    def _manifest(self, call: StepCall) -> dict[str, Any]:
        i: Any = call.inputs
        cluster = call.env.cluster(i.cluster)
        if i.policy:
            policy = call.env.config.backup_policies.get(i.policy)
            if policy is None:
                raise PermanentError(f"no BackupPolicy {i.policy!r} in the configuration")
            manifest = backup_manifests.backup_for(policy, cluster, name=call.key, trigger=RUNBOOK_TRIGGER)
        else:
            manifest = {
                "apiVersion": "velero.io/v1",
                "kind": "Backup",
                "metadata": {"name": call.key, "labels": {TRIGGER: RUNBOOK_TRIGGER}},
                "spec": {"includedNamespaces": list(i.included_namespaces or ["*"])},
            }
        if i.ttl is not None:
            manifest["spec"]["ttl"] = go_duration(i.ttl.total_seconds())
        return manifest


class Restore:
    """A Velero Restore named by the step key, with namespace mapping; waits for a terminal phase."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        namespace = call.env.velero_namespace(i.cluster)
        restores.create_restore(kube, self._manifest(call), namespace=namespace)
        if not i.wait:
            return ActionResult({"name": call.key, "phase": "New"})
        done = restores.wait_for_restore(kube, call.key, namespace=namespace, timeout_seconds=call.timeout_seconds)
        summary = restores.restore_summary(done)
        outputs = {
            "name": summary.name,
            "phase": summary.phase,
            "warnings": summary.warnings,
            "errors": summary.errors,
            "itemsRestored": summary.items_restored,
            "backup": summary.backup,
        }
        if summary.phase not in (RestorePhase.COMPLETED, RestorePhase.PARTIALLY_FAILED):
            reason = summary.failure_reason or "; ".join(summary.validation_errors) or "see velero logs"
            raise PermanentError(f"{i.cluster}: restore {call.key} ended {summary.phase}: {reason}")
        if summary.phase == RestorePhase.PARTIALLY_FAILED and not i.allow_partially_failed:
            raise PermanentError(
                f"{i.cluster}: restore {call.key} ended PartiallyFailed with {summary.errors} error(s)"
            )
        return ActionResult(outputs)

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        namespace = call.env.velero_namespace(i.cluster)
        kube = call.env.kube(i.cluster)
        backup = kube.find(VELERO_BACKUPS, i.backup, namespace=namespace)
        exists = "exists" if backup else "DOES NOT EXIST"
        mapping = ", ".join(f"{k}→{v}" for k, v in (i.namespace_mapping or {}).items()) or "no mapping"
        return PlannedStep(
            "simulated",
            f"would restore backup {i.backup} ({exists}) with {mapping} and wait",
            (f"create Restore {namespace}/{call.key} in {i.cluster}",),
        )

    def _manifest(self, call: StepCall) -> dict[str, Any]:
        i: Any = call.inputs
        return restores.restore_manifest(
            call.key,
            backup=i.backup,
            included_namespaces=list(i.included_namespaces or []) or None,
            namespace_mapping=dict(i.namespace_mapping or {}) or None,
            existing_resource_policy=i.existing_resource_policy,
            restore_pvs=i.restore_pvs,
            labels={TRIGGER: RUNBOOK_TRIGGER},
            included_resources=list(i.included_resources or []) or None,
            excluded_resources=list(i.excluded_resources or []) or None,
        )


class WaitForPhase:
    """Wait until a Backup or Restore reaches one of the given phases."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        resource = VELERO_BACKUPS if i.kind == "Backup" else VELERO_RESTORES
        wanted = set(i.phases)

        def reached(obj: dict[str, Any] | None) -> str | None:
            phase = ((obj or {}).get("status") or {}).get("phase")
            return str(phase) if phase in wanted else None

        phase = waiting.wait_for(
            kube,
            resource,
            i.name,
            namespace=call.env.velero_namespace(i.cluster),
            until=reached,
            timeout_seconds=call.timeout_seconds,
            what=f"{i.kind} {i.name} to reach {'/'.join(sorted(wanted))}",
        )
        return ActionResult({"phase": phase})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("simulated", f"would wait for {i.kind} {i.name} to reach {', '.join(i.phases)}")


class SetLocationAccessMode:
    """Switch a BackupStorageLocation between ReadOnly and ReadWrite (failover makes the DR one writable)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        namespace = call.env.velero_namespace(i.cluster)
        current = velero.storage_location_status(kube, i.location, namespace=namespace)
        if not current.exists:
            raise PermanentError(f"{i.cluster}: BackupStorageLocation {i.location!r} does not exist")
        if current.access_mode != i.access_mode:
            patch = {"spec": {"accessMode": i.access_mode}}
            kube.merge_patch(VELERO_STORAGE_LOCATIONS, i.location, patch, namespace=namespace)
        return ActionResult({"previous": current.access_mode})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        namespace = call.env.velero_namespace(i.cluster)
        current = velero.storage_location_status(call.env.kube(i.cluster), i.location, namespace=namespace)
        change = f"{current.access_mode} → {i.access_mode}" if current.exists else "location DOES NOT EXIST"
        return PlannedStep(
            "simulated",
            f"would set BackupStorageLocation {i.location} {change}",
            (f"patch BackupStorageLocation {namespace}/{i.location} in {i.cluster}",),
        )
