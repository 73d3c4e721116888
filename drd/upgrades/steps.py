"""The upgrade step types: pre-flight, fresh backups, control plane, verify, add-ons, node groups, soak.

Each step is one phase of one cluster's upgrade and is safe to run again: a
control plane or node group already on the target is left alone, a backup
already taken is adopted (its name is the step's idempotency key). That is
what makes a halted or interrupted upgrade resumable from where it stopped:
the engine retries the step that failed, and every step before it stays done.

Steps read the UpgradePlan from the loaded configuration and reach the
platform through the cluster's provider (:mod:`drd.upgrades.providers.registry`).
They live here, above the runbook engine, because providers are part of
:mod:`drd.upgrades`; :func:`upgrade_actions` hands them to the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from drd.clients.errors import KubeAlreadyExists, KubeError
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NAMESPACES, NODES, VELERO_BACKUPS
from drd.errors import DrdError, PermanentError, TemporaryError
from drd.operations import backup_manifests, velero, workloads
from drd.policy.models.cluster import Cluster
from drd.policy.models.upgrade import UpgradePlan, resolve_stages
from drd.runbooks.engine.actions import Action, ActionResult, PlannedStep, StepCall
from drd.runbooks.engine.environment import Environment
from drd.upgrades import facts, preflight, versions
from drd.upgrades.providers import Provider
from drd.upgrades.providers.registry import DrainPolicy, provider_for

PRE_UPGRADE_TRIGGER = "pre-upgrade"
"""``drd.dev/trigger`` of the backups taken before a cluster is upgraded."""

ProviderFactory = Callable[[Cluster, KubeClient, DrainPolicy], Provider]
"""Builds the provider of a cluster (a seam for tests; :func:`provider_for` otherwise)."""


def _default_factory(cluster: Cluster, kube: KubeClient, drain: DrainPolicy) -> Provider:
    return provider_for(cluster, kube, drain=drain)


def upgrade_plan(env: Environment, name: str, cluster: str) -> UpgradePlan:
    """The UpgradePlan, checked to include the cluster the step acts on."""
    plan = env.config.of_kind(UpgradePlan).get(name)
    if plan is None:
        known = ", ".join(sorted(env.config.of_kind(UpgradePlan))) or "none"
        raise PermanentError(f"no UpgradePlan {name!r} in the configuration (known: {known})")
    env.cluster(cluster)
    if not any(c.name == cluster for stage in resolve_stages(plan, env.config.clusters) for c in stage.clusters):
        raise PermanentError(f"UpgradePlan {name} does not upgrade cluster {cluster}")
    return plan


def on_target(version: str, target: str) -> bool:
    """Whether ``version`` is the target's minor at the target's patch or later (a provider suffix aside).

    A version without a patch (EKS reports its control plane as ``1.32``; the provider picks the patch) is
    on target when its minor is.
    """
    have, want = versions.parse(version), versions.parse(target)
    if have.minors_above(want) != 0:
        return False
    return have.patch >= want.patch or version.strip().lstrip("v").split("-")[0].count(".") < 2


class _UpgradeStep:
    """What every upgrade step needs: the plan, the cluster's client and its provider."""

    def __init__(self, providers: ProviderFactory) -> None:
        self.providers = providers

    def context(self, call: StepCall) -> tuple[UpgradePlan, KubeClient, Provider]:
        i: Any = call.inputs
        plan = upgrade_plan(call.env, i.plan, i.cluster)
        kube = call.env.kube(i.cluster)
        drain = DrainPolicy(plan.spec.drain.timeout.total_seconds(), plan.spec.drain.force)
        return plan, kube, self.providers(call.env.cluster(i.cluster), kube, drain)


class Preflight(_UpgradeStep):
    """Every pre-flight rule on the live cluster, plus the platform's own readiness findings; blocking ones stop."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        plan, kube, provider = self.context(call)
        target = plan.spec.target_version
        try:
            gathered = facts.gather(kube, cluster=i.cluster)
        except KubeError as exc:
            raise TemporaryError(f"pre-flight of {i.cluster}: the cluster cannot be read: {exc}") from exc
        found = [*preflight.check(gathered, target), *provider.readiness(i.cluster, target)]
        outputs = {
            "fromVersion": gathered.server_version,
            "toVersion": target,
            "findings": [_finding(f) for f in found],
        }
        blocking = list(preflight.blocking(found))
        if blocking:
            listed = "; ".join(f"{f.object}: {f.message}" for f in blocking)
            return ActionResult(outputs, failure=f"pre-flight of {i.cluster} blocked by {listed}")
        return ActionResult(outputs)

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "reads the cluster and checks every pre-flight rule")


def _finding(finding: preflight.Finding) -> dict[str, str]:
    return {
        "severity": str(finding.severity),
        "object": finding.object,
        "rule": finding.rule,
        "message": finding.message,
    }


class FreshBackups(_UpgradeStep):
    """A Velero backup of every application sourced on the cluster, taken now and awaited (the pre-upgrade backup)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        self.context(call)
        kube = call.env.kube(i.cluster)
        namespace = call.env.velero_namespace(i.cluster)
        wanted = self._manifests(call)
        for manifest in wanted.values():
            manifest["metadata"]["name"] = _usable_name(kube, manifest["metadata"]["name"], namespace)
            with contextlib.suppress(KubeAlreadyExists):  # made by an earlier attempt of this step: adopt it
                velero.create_backup(kube, manifest, namespace=namespace)
        taken: dict[str, str] = {}
        failed: list[str] = []
        for policy, manifest in wanted.items():
            name = manifest["metadata"]["name"]
            done = velero.wait_for_backup(kube, name, namespace=namespace, timeout_seconds=call.timeout_seconds)
            status = done.get("status") or {}
            phase = str(status.get("phase") or "")
            taken[policy] = name
            if phase != "Completed":
                failed.append(f"{policy} ({name}) ended {phase}: {status.get('failureReason') or 'see velero logs'}")
        if failed:
            return ActionResult({"backups": taken}, failure=f"pre-upgrade backup failed: {'; '.join(failed)}")
        return ActionResult({"backups": taken})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        namespace = call.env.velero_namespace(i.cluster)
        names = [m["metadata"]["name"] for m in self._manifests(call).values()]
        return PlannedStep(
            "simulated",
            f"would back up {len(names)} application(s) and wait",
            tuple(f"create Backup {namespace}/{name} in {i.cluster}" for name in names),
        )

    def _manifests(self, call: StepCall) -> dict[str, dict[str, Any]]:
        i: Any = call.inputs
        cluster = call.env.cluster(i.cluster)
        found = {}
        for name, policy in sorted(call.env.config.backup_policies.items()):
            if call.env.config.source_cluster(policy).name != i.cluster:
                continue
            backup = f"{call.key[:40]}-{name}"[:63].rstrip("-.")
            found[name] = backup_manifests.backup_for(policy, cluster, name=backup, trigger=PRE_UPGRADE_TRIGGER)
        return found


FAILED_BACKUP_PHASES = frozenset({"Failed", "PartiallyFailed", "FailedValidation"})
MAX_BACKUP_ATTEMPTS = 20


def _usable_name(kube: KubeClient, base: str, namespace: str) -> str:
    """``<base>-<n>``: the first attempt's Backup that did not fail (adopted after a crash), or the next name.

    A resumed step must not adopt a Backup that failed, or it would fail the same way for ever.
    """
    for attempt in range(1, MAX_BACKUP_ATTEMPTS + 1):
        name = f"{base[:58]}-{attempt}"
        found = kube.find(VELERO_BACKUPS, name, namespace=namespace)
        if found is None or (found.get("status") or {}).get("phase") not in FAILED_BACKUP_PHASES:
            return name
    raise PermanentError(f"{MAX_BACKUP_ATTEMPTS} pre-upgrade backups named {base}-N failed: see velero's logs")


class ControlPlane(_UpgradeStep):
    """The control plane to the target (one minor at most), awaited; nothing to do when it is there already."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        plan, _, provider = self.context(call)
        target = plan.spec.target_version
        current = provider.control_plane_version(i.cluster)
        if on_target(current, target):
            return ActionResult({"fromVersion": current, "toVersion": current, "changed": False})
        operation = provider.upgrade_control_plane(i.cluster, target)
        provider.wait(operation, timeout_seconds=call.timeout_seconds)
        now = provider.control_plane_version(i.cluster)
        if not on_target(now, target):
            raise PermanentError(f"{i.cluster}: the platform reported the upgrade done, yet the API server runs {now}")
        return ActionResult({"fromVersion": current, "toVersion": now, "changed": True})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        plan, _, provider = self.context(call)
        current = provider.control_plane_version(i.cluster)
        target = plan.spec.target_version
        if on_target(current, target):
            return PlannedStep("executed", f"control plane already on {current}: nothing to do")
        return PlannedStep("not executed", f"would upgrade the control plane {current} → {target}",
                           (f"upgrade control plane of {i.cluster} to {target}",))  # fmt: skip


class Verify(_UpgradeStep):
    """The cluster on the new version and healthy: API version, nodes Ready (kubelets upgraded), workloads Ready."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        plan, kube, _ = self.context(call)
        target = plan.spec.target_version
        version = str(kube.version().get("gitVersion", ""))
        if not on_target(version, target):
            raise PermanentError(f"{i.cluster}: the API server runs {version}, not {target}")
        nodes = [facts.node_of(item) for item in kube.list_objects(NODES).items]
        not_ready = sorted(n.name for n in nodes if not n.ready)
        if not_ready:
            raise TemporaryError(f"{i.cluster}: node(s) not Ready: {', '.join(not_ready)}")
        if i.nodes:
            behind = sorted(
                f"{n.name} ({n.kubelet_version})" for n in nodes if not on_target(n.kubelet_version, target)
            )
            if behind:
                raise PermanentError(f"{i.cluster}: kubelet(s) not on {target}: {', '.join(behind)}")
        clock = call.env.clock
        deadline = clock.monotonic() + min(call.timeout_seconds, plan.spec.verify_timeout.total_seconds())
        checked = 0
        for namespace in sorted(item["metadata"]["name"] for item in kube.list_objects(NAMESPACES).items):
            left = max(1.0, deadline - clock.monotonic())
            checked += len(workloads.wait_until_ready(kube, namespace, timeout_seconds=left, clock=clock))
        return ActionResult({"version": version, "nodes": len(nodes), "workloads": checked})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "checks version, nodes and workloads (read-only)")


class Addons(_UpgradeStep):
    """The platform's managed add-ons to versions compatible with the target, awaited."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        plan, _, provider = self.context(call)
        operations = provider.upgrade_addons(i.cluster, plan.spec.target_version)
        for operation in operations:
            provider.wait(operation, timeout_seconds=call.timeout_seconds)
        return ActionResult({"operations": list(operations)})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("not executed", "would move incompatible managed add-ons to compatible versions")


class NodeGroups(_UpgradeStep):
    """Each node group to the target, one group at a time; groups already there are left alone."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        plan, _, provider = self.context(call)
        target = plan.spec.target_version
        done: list[dict[str, Any]] = []
        for group in provider.node_groups(i.cluster):
            if group.versions and all(on_target(v, target) for v in group.versions):
                done.append({"name": group.name, "nodes": len(group.nodes), "changed": False})
                continue
            try:
                operation = provider.upgrade_node_group(i.cluster, group.name, target)
                provider.wait(operation, timeout_seconds=call.timeout_seconds)
            except TemporaryError as exc:
                raise TemporaryError(f"node group {group.name}: {exc}") from exc
            except DrdError as exc:  # a blocked drain, a refused or failed update: halt, naming the group
                raise PermanentError(f"node group {group.name}: {exc}") from exc
            done.append({"name": group.name, "nodes": len(group.nodes), "changed": True})
        return ActionResult({"groups": done})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        plan, _, provider = self.context(call)
        target = plan.spec.target_version
        behind = [g.name for g in provider.node_groups(i.cluster) if not all(on_target(v, target) for v in g.versions)]
        return PlannedStep(
            "not executed",
            f"would roll {len(behind)} node group(s) one at a time",
            tuple(f"roll node group {name} of {i.cluster} to {target}" for name in behind),
        )


class Soak:
    """Wait until the recorded end of a stage's soak (bounded by the step's timeout)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        clock = call.env.clock
        deadline = clock.monotonic() + call.timeout_seconds
        while (left := (i.until - clock.now()).total_seconds()) > 0:
            if clock.monotonic() >= deadline:
                raise TemporaryError(f"the soak lasts until {i.until.isoformat()}: longer than the step's timeout")
            clock.sleep(min(left, 60.0, max(0.0, deadline - clock.monotonic())))
        return ActionResult({"soakedUntil": i.until.isoformat()})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("simulated", f"would wait until {i.until.isoformat()}")


def upgrade_actions(providers: ProviderFactory | None = None) -> Mapping[str, Action]:
    """Step type name → implementation, for :func:`drd.runbooks.assembly.assemble`'s ``extra_actions``."""
    factory = providers or _default_factory
    return {
        "upgrade.preflight": Preflight(factory),
        "upgrade.backup": FreshBackups(factory),
        "upgrade.controlPlane": ControlPlane(factory),
        "upgrade.verify": Verify(factory),
        "upgrade.addons": Addons(factory),
        "upgrade.nodeGroups": NodeGroups(factory),
        "upgrade.soak": Soak(),
    }
