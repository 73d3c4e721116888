"""A pod's ``eviction`` subresource, as ``kubectl drain`` and the official client use it.

``POST /api/v1/namespaces/{ns}/pods/{name}/eviction`` with a ``policy/v1`` (or
``policy/v1beta1``) ``Eviction`` body deletes the pod unless a
PodDisruptionBudget forbids it, the way the apiserver's eviction REST handler
decides (``pkg/registry/core/pod/storage/eviction.go``):

* a body naming another pod is 400; a missing pod is 404;
* a pod that is Pending, Succeeded or Failed, or already being deleted, is
  deleted without consulting any budget (``canIgnorePDB``);
* no budget selects the pod: it is deleted;
* more than one budget selects it: 500, as Kubernetes refuses to choose;
* one budget: its status is computed now (the emulator runs no disruption
  controller): ``currentHealthy`` counts the selected Ready pods not being
  deleted; ``expectedPods`` is the selected pods for an integer
  ``minAvailable`` and else the ``spec.replicas`` of their controllers (so a
  pod evicted and not yet replaced is still expected); ``desiredHealthy`` is
  ``minAvailable`` (an integer, or a percentage of the expected pods rounded
  up) or ``expectedPods - maxUnavailable``; and ``disruptionsAllowed`` is
  ``currentHealthy - desiredHealthy`` (never below 0). An unready pod may go
  while the budget is met (``unhealthyPodEvictionPolicy: IfHealthyBudget``,
  the default, or ``AlwaysAllow``). Otherwise, with no disruption allowed, the
  answer is **429** ``TooManyRequests`` with Kubernetes' message and a
  ``DisruptionBudget`` cause naming the budget; with room, the budget's status
  is written with one disruption fewer and the pod in ``disruptedPods``, and
  the pod is deleted.

A granted eviction answers ``201`` with a ``Success`` Status. ``dryRun=All``
(query, or ``deleteOptions.dryRun`` in the body) decides without deleting or
writing. The computation and the deletion are separate store calls, so two
evictions racing for the last disruption could both pass; drd drains one pod
at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from drd.sandbox.kube import errors
from drd.sandbox.kube.objects import rfc3339
from drd.sandbox.kube.selectors import LabelSelector
from drd.sandbox.kube.store import Obj, Store

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
"""The apiserver's message when no disruption is allowed (``eviction.go``)."""
MULTIPLE = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
PDBS = "poddisruptionbudgets"
_IGNORES_BUDGETS = frozenset({"Pending", "Succeeded", "Failed"})
_SCALED = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "ReplicaSet": "replicasets",
    "ReplicationController": "replicationcontrollers",
}
"""Controllers whose ``spec.replicas`` give a budget's expected pods."""


class DisruptionBudgetViolated(errors.KubeApiError):
    """429 TooManyRequests naming the budget (``NewTooManyRequests(msg, 0)`` plus a DisruptionBudget cause)."""

    code = 429
    reason = "TooManyRequests"

    def __init__(self, pdb: str, *, desired: int, current: int) -> None:
        cause = {
            "reason": "DisruptionBudget",
            "message": f"The disruption budget {pdb} needs {desired} healthy pods and has {current} currently",
        }
        super().__init__(VIOLATION, details={"causes": [cause]})


def evict(store: Store, body: Any, *, namespace: str, name: str, dry_run: bool = False) -> Obj:
    """Evict pod ``namespace/name`` as the apiserver would; returns the ``Success`` Status or raises its error."""
    if not isinstance(body, Mapping):
        raise errors.BadRequest("the body of an eviction must be an Eviction object")
    if body.get("kind") not in (None, "Eviction"):
        raise errors.BadRequest(f"expected an Eviction, got {body.get('kind')}")
    body_name = (body.get("metadata") or {}).get("name")
    if body_name and body_name != name:
        raise errors.BadRequest("name in URL does not match name in Eviction object")
    options = body.get("deleteOptions") or {}
    dry_run = dry_run or "All" in (options.get("dryRun") or [])
    pod = store.get("pods", name, namespace=namespace)
    if not _ignores_budgets(pod):
        budgets = [
            pdb for pdb in store.list(PDBS, namespace=namespace) if _selects(pdb, pod["metadata"].get("labels") or {})
        ]
        if len(budgets) > 1:
            raise errors.InternalError(MULTIPLE)
        if budgets:
            _spend(store, budgets[0], pod, dry_run=dry_run)
    if not dry_run:
        store.delete("pods", name, namespace=namespace, preconditions=_preconditions(options))
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


def budget_status(store: Store, pdb: Mapping[str, Any]) -> Obj:
    """The status a disruption controller would report for ``pdb`` now."""
    namespace = pdb["metadata"]["namespace"]
    pods = [p for p in store.list("pods", namespace=namespace) if _selects(pdb, p["metadata"].get("labels") or {})]
    pods = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    healthy = sum(1 for p in pods if _ready(p) and not p["metadata"].get("deletionTimestamp"))
    spec = pdb.get("spec") or {}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if max_unavailable is not None:
        expected = _expected_by_controllers(store, pods)
        desired = max(0, expected - _scaled(max_unavailable, expected))
    elif isinstance(min_available, str):
        expected = _expected_by_controllers(store, pods)
        desired = _scaled(min_available, expected)
    else:
        expected = len(pods)
        desired = int(min_available or 0)
    return {
        "observedGeneration": pdb["metadata"].get("generation", 1),
        "expectedPods": expected,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "disruptionsAllowed": max(0, healthy - desired),
    }


def _expected_by_controllers(store: Store, pods: list[Obj]) -> int:
    """The pods the budget's workloads want: each controller's ``spec.replicas``, plus 1 per pod without one.

    As the disruption controller does for ``maxUnavailable`` and percentages, so that a pod
    evicted and not yet replaced still counts as expected.
    """
    expected, seen = 0, set()
    for pod in pods:
        owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") in _SCALED), None)
        if owner is None:
            expected += 1
            continue
        if owner.get("uid") in seen:
            continue
        seen.add(owner.get("uid"))
        try:
            workload = store.get(_SCALED[owner["kind"]], owner["name"], namespace=pod["metadata"]["namespace"])
        except errors.NotFound:
            expected += 1
            continue
        replicas = (workload.get("spec") or {}).get("replicas")
        expected += int(replicas) if replicas is not None else 1
    return expected


def _spend(store: Store, pdb: Obj, pod: Obj, *, dry_run: bool) -> None:
    """Check the budget allows evicting ``pod``; record the disruption (unless dry-run); raise 429 if it may not."""
    status = budget_status(store, pdb)
    policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
    if not _ready(pod) and (policy == "AlwaysAllow" or status["currentHealthy"] >= status["desiredHealthy"]):
        return  # an unready pod does not count as a disruption
    if status["disruptionsAllowed"] <= 0:
        if not dry_run:
            _write_status(store, pdb, status)
        raise DisruptionBudgetViolated(
            pdb["metadata"]["name"], desired=status["desiredHealthy"], current=status["currentHealthy"]
        )
    if dry_run:
        return
    disrupted = dict((pdb.get("status") or {}).get("disruptedPods") or {})
    disrupted[pod["metadata"]["name"]] = rfc3339(store.clock.now())
    _write_status(
        store, pdb, {**status, "disruptionsAllowed": status["disruptionsAllowed"] - 1, "disruptedPods": disrupted}
    )


def _write_status(store: Store, pdb: Obj, status: Obj) -> None:
    meta = pdb["metadata"]
    store.patch(PDBS, meta["name"], {"status": status}, namespace=meta["namespace"], subresource="status")


def _selects(pdb: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """policy/v1 semantics: a null selector selects nothing, ``{}`` every pod of the namespace."""
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    return LabelSelector.from_dict(selector).matches(labels)


def _ignores_budgets(pod: Mapping[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) or (pod.get("status") or {}).get("phase") in _IGNORES_BUDGETS


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions if isinstance(c, Mapping))


def _scaled(value: Any, total: int) -> int:
    """An IntOrString: an integer, or a percentage of ``total`` rounded up (as the disruption controller does)."""
    if isinstance(value, str) and value.endswith("%"):
        try:
            percent = int(value[:-1])
        except ValueError as e:
            raise errors.InternalError(f"invalid percentage {value!r} in PodDisruptionBudget") from e
        return math.ceil(percent * total / 100)
    return int(value)


def _preconditions(options: Mapping[str, Any]) -> dict[str, str] | None:
    preconditions = options.get("preconditions")
    return dict(preconditions) if isinstance(preconditions, Mapping) and preconditions else None
