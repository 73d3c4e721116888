"""The ``restore.verify`` step: an incident restore proven with the same checks as a drill.

It reuses the drill's verification (:class:`drd.runbooks.steps.drill_steps.Verify`:
its check runner, so ``objectsPresent``, ``workloadsReady``, ``http``, ``tcp``,
``exec``, ``resourceExists`` and ``job`` behave exactly as in a drill) with three
differences that an incident imposes:

* no namespace ownership is required: an incident restore targets live
  namespaces, which drd did not create;
* the checks are the application's DrillPolicy's ``verify`` list when it has a
  DrillPolicy, else ``objectsPresent`` and ``workloadsReady``; objects Velero
  *skipped because they already existed* are reported, not failed (the person
  chose ``--existing skip``);
* the application's **Secrets** are checked (see :func:`secret_findings`): a
  Secret a restored workload references that is absent after the restore, or a
  Vault-sourced Secret whose source cannot be confirmed (Vault sealed, path
  missing), fails the ``secrets`` check with each one named. Nothing about a
  secret is silently skipped; no secret value is ever read into the outputs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from drd.clients.errors import VaultError, VaultNotFound, VaultSealed
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import CRONJOBS, DAEMONSETS, DEPLOYMENTS, JOBS, SECRETS, STATEFULSETS
from drd.errors import DrdError, PermanentError
from drd.operations import restore_scope, restore_verification, velero_downloads
from drd.operations.checks import CheckResult
from drd.policy.loader import Config
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.checks import ObjectsPresentCheck, WorkloadsReadyCheck
from drd.runbooks.engine.actions import ActionResult, PlannedStep, StepCall
from drd.runbooks.engine.environment import Environment
from drd.runbooks.steps import drill_steps

VAULT_PATH = "drd.dev/vault-path"
"""Annotation on a Kubernetes Secret naming its source in Vault (``[mount/]path``, KV v2; mount default ``secret``)."""
DEFAULT_MOUNT = "secret"
_WORKLOADS = (DEPLOYMENTS, STATEFULSETS, DAEMONSETS, CRONJOBS, JOBS)
_MAX_LISTED = 100


def backup_policy(env: Environment, name: str) -> BackupPolicy:
    """The application's BackupPolicy, or an error listing the known ones."""
    policy = env.config.backup_policies.get(name)
    if policy is None:
        known = ", ".join(sorted(env.config.backup_policies)) or "none"
        raise PermanentError(f"no BackupPolicy {name!r} in the configuration (known: {known})")
    return policy


def verification_checks(config: Config, policy: BackupPolicy) -> tuple[Any, ...]:
    """The application's DrillPolicy checks (the first by name), else objects present and workloads Ready."""
    drills = config.drills_of(policy)
    if drills:
        return tuple(drills[0].spec.verify)
    return (
        ObjectsPresentCheck.model_validate({"type": "objectsPresent"}),
        WorkloadsReadyCheck.model_validate({"type": "workloadsReady"}),
    )


class Verify(drill_steps.Verify):
    """Objects against the backup, Velero's results, the application's checks, then its Secrets."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        env = call.env
        policy = backup_policy(env, i.application)
        kube = env.kube(i.cluster)
        given = dict(i.namespace_mapping or {})
        mapping = {source: given.get(source, source) for source in i.namespaces}
        deadline = time.monotonic() + call.timeout_seconds
        objects, found = self._restored(call, kube, mapping)
        results = [
            self._check(call, kube, mapping, check, index, objects, deadline)
            for index, check in enumerate(verification_checks(env.config, policy))
        ]
        started = time.perf_counter()
        findings = secret_findings(env, kube, sorted(set(mapping.values())))
        results.append(_secrets_result(findings, (time.perf_counter() - started) * 1000))
        passed = all(r.passed for r in results) and not objects["missing"]
        outputs = {
            "checks": [r.to_dict() for r in results],
            "objects": objects,
            **found,
            "secrets": findings,
            "passed": passed,
        }
        reasons = []
        if objects["missing"]:
            reasons.append(f"{len(objects['missing'])} object(s) missing")
        failed = [r.name for r in results if not r.passed]
        if failed:
            reasons.append("failed checks: " + ", ".join(failed))
        return ActionResult(outputs, failure="; ".join(reasons) if reasons else None)

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        checks = verification_checks(call.env.config, backup_policy(call.env, i.application))
        names = [c.name or c.type for c in checks]
        return PlannedStep(
            "not executed", f"would verify objects, Secrets and {len(names)} check(s): {', '.join(names)}"
        )

    def _restored(
        self, call: StepCall, kube: KubeClient, mapping: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The objects report, and what Velero's results say: warnings, errors, failed and skipped objects."""
        i: Any = call.inputs
        namespace = call.env.velero_namespace(i.cluster)
        timeout = min(120.0, call.timeout_seconds)
        listing = velero_downloads.backup_resource_list(
            kube, namespace=namespace, backup=i.backup, timeout_seconds=timeout
        )
        listing = restore_scope.filter_listing(
            kube, listing, included=i.included_resources or (), excluded=i.excluded_resources or ()
        )
        try:
            restored: dict[str, list[str]] | None = velero_downloads.restore_resource_list(
                kube, namespace=namespace, restore=i.restore, timeout_seconds=timeout
            )
        except velero_downloads.DownloadError:
            restored = None  # older Velero versions write no list; the objects report stands without outcomes
        report = restore_verification.verify_objects(
            kube, listing, namespace_mapping=mapping, included_namespaces=sorted(mapping), restored=restored
        )
        results = velero_downloads.restore_results(
            kube, namespace=namespace, restore=i.restore, timeout_seconds=timeout
        )
        skipped = [
            {"namespace": s.namespace, "kind": s.kind, "name": s.name, "message": s.message}
            for s in results.skipped_existing()
        ]
        return report.to_dict(), {
            "restoreWarnings": results.warning_messages()[:_MAX_LISTED],
            "restoreErrors": results.error_messages()[:_MAX_LISTED],
            "failedObjects": failed_objects(restored or {})[:_MAX_LISTED],
            "skippedExisting": skipped[:_MAX_LISTED],
        }


def failed_objects(restored: Mapping[str, Iterable[str]]) -> list[str]:
    """Objects the restore's resource list marks ``(failed)``, as ``apps/v1/Deployment shop/checkout``."""
    failed = []
    for gvk, entries in restored.items():
        for entry in entries:
            item, outcome = velero_downloads.split_outcome(entry)
            if outcome == "failed":
                failed.append(f"{gvk} {item}")
    return sorted(failed)


# -- secrets --------------------------------------------------------------------------------------


def referenced_secrets(workload: Mapping[str, Any]) -> set[str]:
    """Secrets a workload's pods need (env, envFrom, volumes, projected, imagePullSecrets), optional ones aside."""
    spec = workload.get("spec") or {}
    if "jobTemplate" in spec:
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    pod = ((spec.get("template") or {}).get("spec")) or {}
    names: set[str] = {ref["name"] for ref in pod.get("imagePullSecrets") or [] if ref.get("name")}
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name") and not ref.get("optional"):
                names.add(ref["name"])
        for source in container.get("envFrom") or []:
            ref = source.get("secretRef") or {}
            if ref.get("name") and not ref.get("optional"):
                names.add(ref["name"])
    for volume in pod.get("volumes") or []:
        secret = volume.get("secret") or {}
        if secret.get("secretName") and not secret.get("optional"):
            names.add(secret["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            ref = source.get("secret") or {}
            if ref.get("name") and not ref.get("optional"):
                names.add(ref["name"])
    return names


def secret_findings(env: Environment, kube: KubeClient, namespaces: list[str]) -> dict[str, Any]:
    """The application's Secrets after a restore: those referenced but absent, and Vault sources unconfirmed.

    "The application's Secrets" are the Secrets its restored workloads
    reference (not ``optional``) plus the Secrets in its namespaces annotated
    :data:`VAULT_PATH`, whose source in Vault must be readable (an unsealed Vault,
    the path present). Only names and paths are reported, never values.
    """
    referenced: dict[str, list[str]] = {}
    present: set[str] = set()
    sourced: dict[str, str] = {}
    for namespace in namespaces:
        for resource in _WORKLOADS:
            for workload in kube.list_objects(resource, namespace=namespace).items:
                who = f"{resource.kind}/{workload['metadata']['name']}"
                for name in referenced_secrets(workload):
                    referenced.setdefault(f"{namespace}/{name}", []).append(who)
        for secret in kube.list_objects(SECRETS, namespace=namespace).items:
            key = f"{namespace}/{secret['metadata']['name']}"
            present.add(key)
            path = (secret["metadata"].get("annotations") or {}).get(VAULT_PATH)
            if path:
                sourced[key] = path
    missing = [{"secret": key, "referencedBy": sorted(set(refs))} for key, refs in sorted(referenced.items())
               if key not in present]  # fmt: skip
    return {
        "referenced": sorted(referenced),
        "missing": missing,
        "vault": _vault_findings(env, sourced),
    }


def _vault_findings(env: Environment, sourced: Mapping[str, str]) -> dict[str, Any]:
    if not sourced:
        return {"status": "not needed", "problems": []}
    if env.vault_factory is None:
        note = "Vault is not configured (VAULT_ADDR): the Vault sources of these Secrets were not checked"
        return {"status": "not configured", "problems": [f"{k} ({v}): {note}" for k, v in sorted(sourced.items())]}
    problems = []
    try:
        vault = env.vault()
        health = vault.health()
    except (VaultError, DrdError) as exc:
        return {"status": "unreachable", "problems": [f"Vault cannot be reached: {exc}"]}
    if health.sealed:
        return {
            "status": "sealed",
            "problems": [
                f"{key}: its source {path} cannot be confirmed: Vault is sealed"
                for key, path in sorted(sourced.items())
            ],
        }
    for key, path in sorted(sourced.items()):
        mount, _, rest = path.partition("/") if "/" in path else (DEFAULT_MOUNT, "", path)
        try:
            vault.read_kv(rest, mount=mount)
        except VaultSealed:
            problems.append(f"{key}: its source {path} cannot be confirmed: Vault is sealed")
        except VaultNotFound:
            problems.append(f"{key}: its source {path} does not exist in Vault")
        except VaultError as exc:
            problems.append(f"{key}: its source {path} cannot be read: {exc}")
    return {"status": "checked", "problems": problems}


def _secrets_result(findings: Mapping[str, Any], duration_ms: float) -> CheckResult:
    missing = findings["missing"]
    vault = findings["vault"]
    failing = vault["status"] in ("sealed", "unreachable", "checked") and bool(vault["problems"])
    parts = [f"{len(findings['referenced'])} referenced Secret(s)"]
    if missing:
        parts.append(
            "missing: " + "; ".join(f"{m['secret']} (used by {', '.join(m['referencedBy'])})" for m in missing[:10])
        )
    if vault["problems"]:
        parts.append("; ".join(vault["problems"][:10]))
    passed = not missing and not failing
    return CheckResult("secrets", "secrets", passed, duration_ms, "; ".join(parts), {"vault": vault["status"]})


__all__ = ["VAULT_PATH", "Verify", "failed_objects", "referenced_secrets", "secret_findings", "verification_checks"]
