"""The drill step types: readiness, isolation, stopping workloads, verification, evidence, teardown.

Every step reads its DrillPolicy from the loaded configuration, so a drill
always runs with the policy as validated. Safety rules are enforced here, at
the point of action, whatever the runbook says: a drill never acts on a
cluster whose role is ``primary``, and never on a namespace it did not create
(namespaces carry the run's id in :data:`OWNER_LABEL`).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from drd.clients.errors import KubeError, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import CRONJOBS, NAMESPACES, PODS
from drd.errors import PermanentError, VerificationFailed
from drd.operations import diagnostics, jobs, namespaces, restores, velero, workloads
from drd.operations.checks import CheckResult, http_check, resource_exists_check
from drd.operations.objects import resource_for
from drd.policy.models.checks import (
    ExecCheck,
    HttpCheck,
    JobCheck,
    ObjectsPresentCheck,
    ResourceExistsCheck,
    TcpCheck,
    WorkloadsReadyCheck,
)
from drd.policy.models.cluster import Role
from drd.policy.models.drill import DrillPolicy, WorkloadKind
from drd.policy.selectors import LabelSelector
from drd.runbooks.engine.actions import ActionResult, PlannedStep, StepCall
from drd.runbooks.engine.environment import Environment
from drd.runbooks.engine.runner import step_key
from drd.runbooks.steps.kube_steps import OWNER_LABEL
from drd.velero.timefmt import parse_rfc3339, rfc3339

DRILL_LABEL = "drd.dev/drill"
"""On every drill namespace: the DrillPolicy's name (the sweeper finds drill namespaces by it)."""
RUN_LABEL = "drd.dev/drill-run"
"""On every drill namespace: the drill run's id (lowercase)."""
EXPIRES = "drd.dev/expires-at"
"""Annotation on drill namespaces: after this time the sweeper deletes them, whatever happened."""
LOG_LINES = 200
LOG_BYTES = 16_384
MAX_PODS = 30


def drill_policy(env: Environment, name: str, cluster: str) -> DrillPolicy:
    """The DrillPolicy, checked against the cluster the step acts on: its target, or a canary; never a primary."""
    policy = env.config.drill_policies.get(name)
    if policy is None:
        known = ", ".join(sorted(env.config.drill_policies)) or "none"
        raise PermanentError(f"no DrillPolicy {name!r} in the configuration (known: {known})")
    role = env.cluster(cluster).spec.role
    if policy.spec.target != cluster and role is not Role.CANARY:
        raise PermanentError(
            f"DrillPolicy {name} targets {policy.spec.target}, not {cluster} (a drill may also run in a canary "
            "cluster, as an upgrade's proof)"
        )
    if role is Role.PRIMARY:
        raise PermanentError(f"refusing to run a drill in {cluster}: its role is primary")
    return policy


def drill_namespace(policy: DrillPolicy, source: str, run_id: str) -> str:
    """``<prefix><source>-<run>``: unique per drill, so a namespace kept from a failed drill never collides."""
    suffix = "-" + run_id[-6:].lower()
    return (policy.spec.isolation.namespace_for(source)[: 63 - len(suffix)] + suffix).replace("--", "-")


def _owned(run_id: str) -> tuple[str, str]:
    return OWNER_LABEL, run_id.lower()


class Prepare:
    """DR readiness first: the cluster answers, Velero is there, the replicated location is fit, a backup synced."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        env = call.env
        policy = drill_policy(env, i.policy, i.cluster)
        backup_policy = env.config.backup_policies[policy.spec.backup_policy]
        source = env.config.source_cluster(backup_policy)
        kube = env.kube(i.cluster)
        try:
            kube.version()
        except KubeError as exc:
            raise PermanentError(f"DR cluster {i.cluster} is not reachable: {exc}") from exc
        velero.require_velero(kube)
        namespace = env.velero_namespace(i.cluster)
        backup = restores.newest_restorable_backup(
            kube,
            policy=backup_policy.name,
            namespace=namespace,
            allow_partially_failed=policy.spec.allow_partially_failed_backup,
        )
        if backup is None:
            raise PermanentError(
                f"no restorable backup of {backup_policy.name} has reached {i.cluster} yet: replication or "
                f"Velero's backup sync is behind, or no backup of {source.metadata.name} succeeded"
            )
        location_name = str((backup.get("spec") or {}).get("storageLocation") or "")
        location = velero.storage_location_status(kube, location_name, namespace=namespace)
        refusal = location.refusal(writes=False)
        if refusal is not None:
            raise PermanentError(f"{i.cluster}: {refusal}")
        if not location.read_only:
            raise PermanentError(
                f"{i.cluster}: BackupStorageLocation {location_name} is ReadWrite: a DR cluster must read the "
                "replicated bucket ReadOnly, so that nothing it does can change or delete the backups"
            )
        sources = _source_namespaces(backup, backup_policy.spec.scope.included_namespaces)
        status = backup.get("status") or {}
        taken = parse_rfc3339(status.get("startTimestamp"))
        age = (env.clock.now() - taken).total_seconds() if taken else None
        return ActionResult(
            {
                "backup": backup["metadata"]["name"],
                "backupStartedAt": status.get("startTimestamp") or "",
                "backupCompletedAt": status.get("completionTimestamp") or "",
                "backupPhase": status.get("phase") or "",
                "ageSeconds": round(age, 3) if age is not None else None,
                "partiallyFailed": status.get("phase") == "PartiallyFailed",
                "storageLocation": location_name,
                "sourceNamespaces": sources,
                "namespaces": {src: drill_namespace(policy, src, call.run_id) for src in sources},
                "sourceCluster": source.metadata.name,
            }
        )

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "checks DR readiness and chooses the backup")


def _source_namespaces(backup: dict[str, Any], scope: tuple[str, ...]) -> list[str]:
    included = list((backup.get("spec") or {}).get("includedNamespaces") or scope or [])
    if not included or any("*" in name for name in included):
        raise PermanentError(
            f"backup {backup['metadata']['name']} covers namespaces {included or ['*']}: a drill restores named "
            "namespaces only (list them in the BackupPolicy's scope)"
        )
    return sorted(included)


class Isolate:
    """Create each drill namespace before anything is restored into it: owned by this run, fenced, capped."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        policy = drill_policy(call.env, i.policy, i.cluster)
        isolation = policy.spec.isolation
        kube = call.env.kube(i.cluster)
        expires = call.env.clock.now() + policy.spec.namespace_ttl
        created = []
        for drill_ns in sorted(dict(i.namespaces).values()):
            owner, run = _owned(call.run_id)
            namespaces.create_isolated_namespace(
                kube,
                drill_ns,
                labels={DRILL_LABEL: policy.name, RUN_LABEL: run, owner: run},
                owner_label=owner,
                annotations={EXPIRES: rfc3339(expires)},
                deny_network=isolation.deny_network,
                quota=_quota(policy),
                limit_range=_limits(policy),
            )
            created.append(drill_ns)
        return ActionResult({"created": created})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        names = sorted(dict(i.namespaces).values())
        return PlannedStep("simulated", f"would create {len(names)} isolated namespace(s)", tuple(names))


def _quota(policy: DrillPolicy) -> dict[str, Any] | None:
    quota = policy.spec.isolation.resource_quota
    if quota is None:
        return None
    return {
        "hard": {
            "requests.cpu": str(quota.cpu),
            "requests.memory": str(quota.memory),
            "requests.storage": str(quota.storage),
            "pods": str(quota.pods),
        }
    }


def _limits(policy: DrillPolicy) -> dict[str, Any] | None:
    limits = policy.spec.isolation.limit_range
    if limits is None:
        return None
    request, limit = limits.default_request, limits.default_limit
    return {
        "limits": [
            {
                "type": "Container",
                "defaultRequest": {"cpu": str(request.cpu), "memory": str(request.memory)},
                "default": {"cpu": str(limit.cpu), "memory": str(limit.memory)},
            }
        ]
    }


class StopWorkloads:
    """Scale to zero (or suspend) the workloads the policy says must not run in a drill."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        policy = drill_policy(call.env, i.policy, i.cluster)
        kube = call.env.kube(i.cluster)
        stopped = []
        for drill_ns in sorted(dict(i.namespaces).values()):
            _require_owned(kube, drill_ns, call.run_id)
            for ref in policy.spec.isolation.scale_to_zero:
                if _stop(kube, drill_ns, ref.kind, ref.name):
                    stopped.append(f"{drill_ns}/{ref}")
        return ActionResult({"stopped": stopped})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        policy = drill_policy(call.env, i.policy, i.cluster)
        refs = [str(ref) for ref in policy.spec.isolation.scale_to_zero]
        return PlannedStep("simulated", f"would stop {', '.join(refs) or 'nothing'}")


def _stop(kube: KubeClient, namespace: str, kind: WorkloadKind, name: str) -> bool:
    try:
        if kind is WorkloadKind.CRON_JOB:
            kube.merge_patch(CRONJOBS, name, {"spec": {"suspend": True}}, namespace=namespace)
        elif kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET):
            workloads.scale(kube, kind.value, name, namespace=namespace, replicas=0)
        else:
            api = "apps/v1"
            kube.merge_patch(resource_for(kube, api, kind.value), name, {"spec": {"replicas": 0}}, namespace=namespace)
    except KubeNotFound:
        return False
    return True


def _require_owned(kube: KubeClient, namespace: str, run_id: str) -> None:
    found = kube.find(NAMESPACES, namespace)
    if found is None or not namespaces.namespace_owned_by(found, *_owned(run_id)):
        raise PermanentError(f"namespace {namespace} was not created by this drill: refusing to touch it")


class Verify:
    """The restored application, proven: objects against the backup, Velero's warnings, then each check in order."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        env = call.env
        policy = drill_policy(env, i.policy, i.cluster)
        kube = env.kube(i.cluster)
        mapping = dict(i.namespaces)
        for drill_ns in mapping.values():
            _require_owned(kube, drill_ns, call.run_id)
        deadline = time.monotonic() + call.timeout_seconds
        objects, warnings = self._integrity(call, kube, mapping)
        results = [
            self._check(call, kube, mapping, check, index, objects, deadline)
            for index, check in enumerate(policy.spec.verify)
        ]
        skipped = [w for w in warnings if "already exists" in w]
        passed = all(r.passed for r in results) and not objects["missing"] and not skipped
        outputs = {
            "checks": [r.to_dict() for r in results],
            "objects": objects,
            "restoreWarnings": warnings[:100],
            "passed": passed,
        }
        failed = [r.name for r in results if not r.passed]
        reasons = []
        if objects["missing"]:
            reasons.append(f"{len(objects['missing'])} object(s) missing")
        if skipped:
            reasons.append(f"{len(skipped)} object(s) skipped because they already existed")
        if failed:
            reasons.append("failed checks: " + ", ".join(failed))
        return ActionResult(outputs, failure="; ".join(reasons) if reasons else None)

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        policy = drill_policy(call.env, i.policy, i.cluster)
        names = [c.name or c.type for c in policy.spec.verify]
        return PlannedStep("not executed", f"would verify objects and run {len(names)} check(s): {', '.join(names)}")

    def _integrity(self, call: StepCall, kube: KubeClient, mapping: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
        from drd.operations import restore_verification, velero_downloads

        i: Any = call.inputs
        namespace = call.env.velero_namespace(i.cluster)
        timeout = min(120.0, call.timeout_seconds)
        listing = velero_downloads.backup_resource_list(
            kube, namespace=namespace, backup=i.backup, timeout_seconds=timeout
        )
        report = restore_verification.verify_objects(
            kube, listing, namespace_mapping=mapping, included_namespaces=sorted(mapping)
        )
        results = velero_downloads.restore_results(
            kube, namespace=namespace, restore=i.restore, timeout_seconds=timeout
        )
        return report.to_dict(), results.warning_messages()

    def _check(  # noqa: PLR0917 - the verification's state, passed down once per check
        self,
        call: StepCall,
        kube: KubeClient,
        mapping: dict[str, str],
        check: Any,
        index: int,
        objects: dict[str, Any],
        deadline: float,
    ) -> CheckResult:
        name = check.name or f"{check.type}-{index + 1}"
        namespace = mapping.get(check.namespace or "", "") or next(iter(sorted(mapping.values())), "")
        timeout = max(1.0, min(check.timeout.total_seconds(), deadline - time.monotonic()))
        started = time.perf_counter()
        try:
            result = self._run_check(call, kube, namespace, check, name, index, objects, timeout)
        except (KubeError, PermanentError, VerificationFailed) as exc:
            result = CheckResult(name, check.type, False, 0.0, str(exc))
        except Exception as exc:
            result = CheckResult(name, check.type, False, 0.0, f"{type(exc).__name__}: {exc}")
        duration = (time.perf_counter() - started) * 1000
        return CheckResult(name, check.type, result.passed, duration, result.detail, result.observed)

    def _run_check(  # noqa: PLR0911, PLR0917 - one branch per check type
        self,
        call: StepCall,
        kube: KubeClient,
        namespace: str,
        check: Any,
        name: str,
        index: int,
        objects: dict[str, Any],
        timeout: float,
    ) -> CheckResult:
        if isinstance(check, ObjectsPresentCheck):
            missing = [m for m in objects["missing"] if not check.resources or any(r in m for r in check.resources)]
            detail = f"{objects['found']} of {objects['expected']} restored objects present"
            if missing:
                detail += f"; missing: {', '.join(missing[:10])}"
            return CheckResult(name, check.type, not missing, 0.0, detail)
        if isinstance(check, WorkloadsReadyCheck):
            selector = _selector(check.selector)
            try:
                ready = workloads.wait_until_ready(kube, namespace, label_selector=selector, timeout_seconds=timeout)
            except workloads.WorkloadsNotReady as exc:
                return CheckResult(name, check.type, False, 0.0, str(exc))
            return CheckResult(name, check.type, True, 0.0, f"{len(ready)} workload(s) Ready")
        if isinstance(check, HttpCheck):
            return http_check(
                kube=kube,
                namespace=namespace,
                service=check.service,
                port=check.port,
                path=check.path,
                scheme=check.scheme,
                expect_status=check.expect_status,
                contains=check.body_contains,
                timeout=min(timeout, 30.0),
                label=name,
            )
        if isinstance(check, ExecCheck):
            from drd.operations.checks import exec_check

            return exec_check(
                kube,
                namespace=namespace,
                selector=_selector(check.selector) or "",
                container=check.container,
                command=list(check.command),
                expect_exit_code=check.expect_exit_code,
                timeout=timeout,
            )
        if isinstance(check, ResourceExistsCheck):
            ref = check.object
            resource = resource_for(kube, ref.api_version, ref.kind)
            return resource_exists_check(
                kube, resource, ref.name, namespace if resource.namespaced else None, label=name
            )
        if isinstance(check, TcpCheck):
            command = ["sh", "-c", f"nc -z -w 5 {check.service} {check.port}"]
            return _job_check(call, kube, namespace, name, index, "busybox:1.36", command, {}, (), timeout)
        if isinstance(check, JobCheck):
            return _job_check(
                call, kube, namespace, name, index, check.image, list(check.command), dict(check.env),
                tuple(check.env_from_secrets), timeout,
            )  # fmt: skip
        raise PermanentError(f"check type {check.type!r} is not supported")


def _selector(selector: LabelSelector | None) -> str | None:
    return selector.to_selector_string() or None if selector is not None else None


def _job_check(  # noqa: PLR0917
    call: StepCall,
    kube: KubeClient,
    namespace: str,
    name: str,
    index: int,
    image: str,
    command: list[str],
    env: dict[str, str],
    secrets: tuple[str, ...],
    timeout: float,
) -> CheckResult:
    manifest = jobs.job_manifest(
        f"{call.key}-{index + 1}"[:63],
        image=image,
        command=command,
        env=env,
        labels={OWNER_LABEL: call.run_id.lower()},
        active_deadline_seconds=max(1, int(timeout)),
    )
    if secrets:
        container = manifest["spec"]["template"]["spec"]["containers"][0]
        container["envFrom"] = [{"secretRef": {"name": secret}} for secret in secrets]
    started = time.perf_counter()
    result = jobs.run_job(kube, manifest, namespace=namespace, timeout_seconds=timeout)
    detail = "the Job succeeded" if result.succeeded else f"the Job failed: {result.message}"
    return CheckResult(name, "job", result.succeeded, (time.perf_counter() - started) * 1000, detail)


class CaptureEvidence:
    """The drill namespaces' Events and the restored pods' logs, before teardown deletes them."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        events: list[dict[str, Any]] = []
        logs: dict[str, str] = {}
        for drill_ns in sorted(dict(i.namespaces).values()):
            events += diagnostics.namespace_events(kube, drill_ns, limit=200)
            for pod in kube.list_objects(PODS, namespace=drill_ns).items[:MAX_PODS]:
                pod_name = pod["metadata"]["name"]
                try:
                    text = diagnostics.pod_logs(kube, drill_ns, pod_name, tail_lines=LOG_LINES)
                except KubeError as exc:
                    text = f"(logs unavailable: {exc})"
                logs[f"{drill_ns}/{pod_name}"] = text[-LOG_BYTES:]
        return ActionResult({"events": events[-500:], "logs": logs})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("not executed", "would keep events and pod logs")


class Teardown:
    """Delete the drill's namespaces and Restore; a failed drill's namespaces are kept ``keepFailedFor``."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        env = call.env
        policy = drill_policy(env, i.policy, i.cluster)
        kube = env.kube(i.cluster)
        owned = kube.list_objects(NAMESPACES, label_selector=f"{RUN_LABEL}={call.run_id.lower()}").items
        names = sorted(
            ns["metadata"]["name"] for ns in owned if namespaces.namespace_owned_by(ns, *_owned(call.run_id))
        )
        keep = policy.spec.teardown.keep_failed_for
        if i.failed and keep > timedelta(0):
            until = env.clock.now() + keep
            for name in names:
                kube.merge_patch(NAMESPACES, name, {"metadata": {"annotations": {EXPIRES: rfc3339(until)}}})
            return ActionResult({"status": "kept", "namespaces": names, "keptUntil": rfc3339(until)})
        for name in names:
            namespaces.delete_namespace(
                kube, name, wait=True, timeout_seconds=call.timeout_seconds, owned_by=_owned(call.run_id)
            )
        restores.delete_restore(kube, step_key(call.run_id, "restore"), namespace=env.velero_namespace(i.cluster))
        return ActionResult({"status": "deleted", "namespaces": names, "keptUntil": None})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("simulated", "would delete the drill namespaces and the Restore")


def sweep(kube: KubeClient, *, now: datetime) -> list[str]:
    """Delete drill namespaces past their ``expires-at`` (the TTL that guarantees drill namespaces die)."""
    deleted = []
    for ns in kube.list_objects(NAMESPACES, label_selector=DRILL_LABEL).items:
        expires = parse_rfc3339((ns["metadata"].get("annotations") or {}).get(EXPIRES))
        if expires is None or expires > now or ns["metadata"].get("deletionTimestamp"):
            continue
        try:
            kube.delete(NAMESPACES, ns["metadata"]["name"])
        except KubeNotFound:
            continue
        deleted.append(ns["metadata"]["name"])
    return deleted


__all__ = ["CaptureEvidence", "Isolate", "Prepare", "StopWorkloads", "Teardown", "Verify", "sweep"]
