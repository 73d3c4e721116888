"""Kubernetes steps: read, apply, patch, annotate, delete, scale, wait for Ready, isolate and delete namespaces.

Mutations plan through the API server's own dry run (``dryRun=All``), so a
plan says what the server would accept, not what drd hopes it would.
"""

from __future__ import annotations

from typing import Any

from drd.operations import namespaces, objects, workloads
from drd.runbooks.engine.actions import ActionResult, PlannedStep, StepCall

OWNER_LABEL = "drd.dev/created-by-run"
"""Namespaces a run creates carry this label (the run's id): only they may be deleted or reused by drd."""


def _where(i: Any) -> str:
    return f"{i.namespace}/{i.name}" if getattr(i, "namespace", None) else str(i.name)


class GetObject:
    """Read one object (``exists`` false when absent)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        obj = objects.get_object(call.env.kube(i.cluster), i.api_version, i.kind, i.name, namespace=i.namespace)
        return ActionResult({"object": obj or {}, "exists": obj is not None})

    def plan(self, call: StepCall) -> PlannedStep:
        return PlannedStep("executed", "reads an object")


class Apply:
    """Create or update objects so that they contain the given manifests."""

    def execute(self, call: StepCall) -> ActionResult:
        return ActionResult(self._apply(call, dry_run=False))

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        results = self._apply(call, dry_run=True)
        changes = tuple(
            f"{verb[:-1] if verb.endswith('d') else verb} {m.get('kind')} {m.get('metadata', {}).get('name')}"
            for verb in ("created", "updated")
            for m in results[f"_{verb}"]
        )
        return PlannedStep(
            "server dry run",
            f"{len(results['created'])} to create, {len(results['updated'])} to update, "
            f"{len(results['unchanged'])} unchanged in {i.cluster}",
            changes,
        )

    def _apply(self, call: StepCall, *, dry_run: bool) -> dict[str, Any]:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        outcome: dict[str, list[Any]] = {"created": [], "updated": [], "unchanged": []}
        manifests: dict[str, list[Any]] = {"_created": [], "_updated": [], "_unchanged": []}
        for manifest in i.manifests:
            verb = objects.apply(kube, dict(manifest), dry_run=dry_run)
            name = f"{manifest.get('kind')}/{(manifest.get('metadata') or {}).get('name')}"
            outcome[verb].append(name)
            manifests[f"_{verb}"].append(manifest)
        return {**outcome, **manifests} if dry_run else outcome


class Patch:
    """Patch one object (merge or JSON patch)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        obj = objects.patch(
            call.env.kube(i.cluster),
            i.api_version,
            i.kind,
            i.name,
            namespace=i.namespace,
            patch=_plain(i.patch),
            patch_type=i.patch_type,
        )
        return ActionResult({"object": obj})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        objects.patch(
            call.env.kube(i.cluster),
            i.api_version,
            i.kind,
            i.name,
            namespace=i.namespace,
            patch=_plain(i.patch),
            patch_type=i.patch_type,
            dry_run=True,
        )
        return PlannedStep("server dry run", "accepted by the API server", (f"patch {i.kind} {_where(i)}",))


class Annotate:
    """Set annotations on one object."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        obj = objects.annotate(
            call.env.kube(i.cluster), i.api_version, i.kind, i.name, namespace=i.namespace,
            annotations=dict(i.annotations),
        )  # fmt: skip
        return ActionResult({"object": obj})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        objects.annotate(
            call.env.kube(i.cluster), i.api_version, i.kind, i.name, namespace=i.namespace,
            annotations=dict(i.annotations), dry_run=True,
        )  # fmt: skip
        return PlannedStep("server dry run", "accepted by the API server", (f"annotate {i.kind} {_where(i)}",))


class Delete:
    """Delete one object (already gone is fine)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        deleted = objects.delete_object(call.env.kube(i.cluster), i.api_version, i.kind, i.name, namespace=i.namespace)
        return ActionResult({"deleted": deleted})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        existed = objects.delete_object(
            call.env.kube(i.cluster), i.api_version, i.kind, i.name, namespace=i.namespace, dry_run=True
        )
        summary = "would delete it" if existed else "already absent: nothing to do"
        return PlannedStep("server dry run", summary, (f"delete {i.kind} {_where(i)}",) if existed else ())


class Scale:
    """Scale one Deployment/StatefulSet, or all of a kind in a namespace; ``previous`` lets a compensation undo it."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        if not isinstance(i.replicas, int):  # a name → count map (a compensation restoring ``previous``)
            previous = {
                name: workloads.scale(kube, i.kind, name, namespace=i.namespace, replicas=count)
                for name, count in i.replicas.items()
            }
        elif i.name:
            previous = {i.name: workloads.scale(kube, i.kind, i.name, namespace=i.namespace, replicas=i.replicas)}
        else:
            previous = workloads.scale_all(kube, i.kind, namespace=i.namespace, replicas=i.replicas)
        return ActionResult({"previous": previous})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        current = workloads.workloads(call.env.kube(i.cluster), i.namespace, (i.kind,))
        wanted = dict(i.replicas) if not isinstance(i.replicas, int) else None
        chosen = [w for w in current if (w.name in wanted if wanted is not None else not i.name or w.name == i.name)]

        def target(name: str) -> int:
            return wanted[name] if wanted is not None else int(i.replicas)

        changes = tuple(f"scale {i.kind} {i.namespace}/{w.name} {w.desired}→{target(w.name)}" for w in chosen)
        return PlannedStep("simulated", f"would scale {len(chosen)} {i.kind}(s)", changes)


class WaitReady:
    """Wait until every workload in a namespace is Ready."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        ready = workloads.wait_until_ready(
            call.env.kube(i.cluster), i.namespace, kinds=tuple(i.kinds), timeout_seconds=call.timeout_seconds
        )
        return ActionResult({"workloads": [f"{w.kind}/{w.name}" for w in ready], "ready": len(ready)})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("simulated", f"would wait ≤{call.timeout_seconds:.0f}s for workloads in {i.namespace}")


class IsolateNamespace:
    """Cut a namespace off the network (deny-all NetworkPolicy); with ``create``, make it (owned by this run)."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        kube = call.env.kube(i.cluster)
        if i.create:
            labels = {**dict(i.labels or {}), OWNER_LABEL: call.run_id.lower()}
            namespaces.create_isolated_namespace(
                kube,
                i.namespace,
                labels=labels,
                owner_label=OWNER_LABEL,
                deny_network=i.deny_network,
                quota={"hard": dict(i.quota)} if i.quota else None,
            )
            return ActionResult({"created": True})
        if i.deny_network:
            namespaces.isolate_namespace(kube, i.namespace)
        return ActionResult({"created": False})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        verb = "create and isolate" if i.create else "isolate"
        return PlannedStep(
            "simulated",
            f"would {verb} namespace {i.namespace}",
            (f"{verb} Namespace {i.namespace} in {i.cluster}",),
        )


class DeleteNamespace:
    """Delete a namespace and wait until it is gone; refuses one that exists and was not made by drd."""

    def execute(self, call: StepCall) -> ActionResult:
        i: Any = call.inputs
        deleted = namespaces.delete_namespace(
            call.env.kube(i.cluster), i.name, wait=i.wait, timeout_seconds=call.timeout_seconds
        )
        return ActionResult({"deleted": deleted})

    def plan(self, call: StepCall) -> PlannedStep:
        i: Any = call.inputs
        return PlannedStep("simulated", f"would delete namespace {i.name}", (f"delete Namespace {i.name}",))


def _plain(value: Any) -> Any:
    if hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
