"""Cordoning and draining nodes through the eviction API, so that PodDisruptionBudgets are honoured.

:func:`drain` does what ``kubectl drain --ignore-daemonsets --delete-emptydir-data``
does: cordon the node, then evict (:meth:`KubeClient.evict`, ``POST pods/<name>/eviction``) every pod
bound to it except DaemonSet-owned pods (their controller would put them back)
and mirror pods (the kubelet owns them). A ``429`` (a budget allowing no
disruption right now, or the API shedding load) is retried every
``retry_seconds`` until the deadline; evicted pods are then awaited until they
are gone (watch-based, :mod:`drd.operations.waiting`). Pods the drain lists
once, after cordoning, are the ones it evicts: replacements are the
scheduler's business, and a cordoned node receives none.

When the deadline passes with pods still refused, :class:`DrainBlocked` names
the budgets that refused them and the pods left, unless ``force=True``: then
the remaining pods are deleted outright, bypassing their budgets. Only an
UpgradePlan that says ``drain: {force: true}`` may ask for that.

**Why DrainBlocked is a PermanentError.** The drain already retried for the
whole time the plan allows; a budget with ``minAvailable`` equal to the
replicas stays blocked until someone changes the budget, scales the workload
or decides to force. A generic retry policy re-running the drain would only
stretch the bound the operator set. The upgrade halts (sticky), naming the
budget, and ``drd upgrade resume`` is the retry, after a human acted.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drd.clients.errors import KubeNotFound, KubeUnavailable
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NODES, PODS, Resource
from drd.clock import Clock, SystemClock
from drd.errors import PermanentError
from drd.operations.waiting import wait_for_all
from drd.velero.selection import matches_label_selector

PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
"""Set by the kubelet on the API copy of a static pod."""
_BUDGET_CAUSE = re.compile(r"^The disruption budget (?P<name>\S+) needs")
"""The apiserver's ``DisruptionBudget`` cause message (``pkg/registry/core/pod/storage/eviction.go``)."""
DEFAULT_RETRY_SECONDS = 5.0
"""How long to wait before retrying refused evictions (kubectl drain's interval)."""


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What a drain did: pods evicted, pods deleted by force, pods left alone; all as ``namespace/name``."""

    node: str
    evicted: tuple[str, ...] = ()
    forced: tuple[str, ...] = ()
    """Deleted despite their budgets, after the deadline (``force=True`` only)."""
    skipped: tuple[str, ...] = ()
    """DaemonSet-owned and mirror pods, which a drain leaves on the node."""
    blocked_by: tuple[str, ...] = ()
    """Budgets (``PodDisruptionBudget/ns/name``) that held pods until the deadline (and force removed them)."""


class DrainBlocked(PermanentError):
    """The drain's deadline passed with pods whose eviction was still refused (see the module docstring)."""

    def __init__(
        self, kube: KubeClient, *, node: str, budgets: Sequence[str], pods: Sequence[str], waited: float
    ) -> None:
        named = ", ".join(budgets) or "no PodDisruptionBudget (the API answered 429)"
        shown = ", ".join(pods[:10]) + (f" and {len(pods) - 10} more" if len(pods) > 10 else "")
        super().__init__(
            f"{kube.system}: drain of node {node} blocked after {waited:g}s by {named}; "
            f"{len(pods)} pod(s) left on the node: {shown}"
        )
        self.cluster = kube.cluster
        self.node = node
        self.budgets = tuple(budgets)
        self.pods = tuple(pods)


def cordon(kube: KubeClient, node: str) -> None:
    """Mark the node unschedulable (idempotent)."""
    kube.merge_patch(NODES, node, {"spec": {"unschedulable": True}})


def uncordon(kube: KubeClient, node: str) -> None:
    """Make the node schedulable again (idempotent)."""
    kube.merge_patch(NODES, node, {"spec": {"unschedulable": None}})


def drain(
    kube: KubeClient,
    node: str,
    *,
    timeout_seconds: float,
    force: bool = False,
    retry_seconds: float = DEFAULT_RETRY_SECONDS,
    clock: Clock | None = None,
) -> DrainResult:
    """Cordon ``node`` and evict its pods within ``timeout_seconds``; :class:`DrainBlocked` if budgets hold them."""
    clock = clock or SystemClock()
    started = clock.monotonic()
    deadline = started + timeout_seconds
    cordon(kube, node)
    pods = kube.list_objects(PODS, field_selector=f"spec.nodeName={node}").items
    skipped = tuple(_ref(p) for p in pods if not _drainable(p))
    pending = {_ref(p): p for p in pods if _drainable(p)}
    evicted: list[str] = []
    blocked: dict[str, str] = {}  # pod -> budget (or "" when no budget explains the 429)
    while True:
        blocked = {}
        for ref, pod in list(pending.items()):
            outcome = _evict(kube, pod)
            if outcome is None:
                evicted.append(ref)
                del pending[ref]
            else:
                blocked[ref] = outcome
        remaining = deadline - clock.monotonic()
        if not pending or remaining <= 0:
            break
        clock.sleep(min(retry_seconds, remaining))
    budgets = sorted({b for b in blocked.values() if b})
    forced: list[str] = []
    if pending:
        if not force:
            raise DrainBlocked(
                kube, node=node, budgets=budgets, pods=sorted(pending), waited=round(clock.monotonic() - started, 1)
            )
        for ref, pod in pending.items():
            with contextlib.suppress(KubeNotFound):
                kube.delete(PODS, pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
            forced.append(ref)
    timeout = max(1.0, deadline - clock.monotonic())
    _wait_gone(kube, node, refs=[*evicted, *forced], pods=pods, timeout=timeout, clock=clock)
    return DrainResult(
        node=node, evicted=tuple(evicted), forced=tuple(forced), skipped=skipped, blocked_by=tuple(budgets)
    )


def _evict(kube: KubeClient, pod: Mapping[str, Any]) -> str | None:
    """Ask to evict ``pod``: ``None`` when it is evicted (or already gone), else the budget refusing it (or "")."""
    metadata = pod["metadata"]
    name, namespace = str(metadata["name"]), str(metadata["namespace"])
    try:
        kube.evict(namespace, name, uid=metadata.get("uid"))
    except KubeNotFound:
        return None
    except KubeUnavailable as exc:
        if exc.status != 429:
            return ""  # an API hiccup: try again on the next round
        return _budget_named(namespace, exc.causes) or _budget_for(kube, pod)
    return None


def _budget_named(namespace: str, causes: Sequence[Mapping[str, str]]) -> str:
    """The budget a 429's ``DisruptionBudget`` cause names (``PodDisruptionBudget/ns/name``), or ""."""
    for cause in causes:
        found = _BUDGET_CAUSE.match(cause.get("message", "")) if cause.get("reason") == "DisruptionBudget" else None
        if found:
            return f"PodDisruptionBudget/{namespace}/{found['name']}"
    return ""


def _budget_for(kube: KubeClient, pod: Mapping[str, Any]) -> str:
    """The budget selecting ``pod`` (``PodDisruptionBudget/ns/name``), or "" if none does (plain throttling).

    Only for a 429 without a ``DisruptionBudget`` cause (an API server that words it otherwise).
    """
    namespace = pod["metadata"]["namespace"]
    labels = pod["metadata"].get("labels") or {}
    names = [
        f"PodDisruptionBudget/{namespace}/{pdb['metadata']['name']}"
        for pdb in kube.list_objects(PDBS, namespace=namespace).items
        if (pdb.get("spec") or {}).get("selector") is not None
        and matches_label_selector((pdb.get("spec") or {}).get("selector"), labels)
    ]
    return ", ".join(sorted(names))


def _wait_gone(
    kube: KubeClient, node: str, *, refs: Sequence[str], pods: Sequence[Mapping[str, Any]], timeout: float, clock: Clock
) -> None:
    """Wait until the pods removed from ``node`` are gone (a replacement with the same name has another uid)."""
    uids = {p["metadata"].get("uid") for p in pods if _ref(p) in set(refs)}
    if not uids:
        return

    def gone(objects: list[dict[str, Any]]) -> bool | None:
        return True if not any(o["metadata"].get("uid") in uids for o in objects) else None

    wait_for_all(
        kube,
        PODS,
        namespace=None,
        field_selector=f"spec.nodeName={node}",
        until_all=gone,
        timeout_seconds=timeout,
        what=f"the pods evicted from node {node} to terminate",
        clock=clock,
    )


def _drainable(pod: Mapping[str, Any]) -> bool:
    metadata = pod.get("metadata") or {}
    if MIRROR_ANNOTATION in (metadata.get("annotations") or {}):
        return False
    return not any(owner.get("kind") == "DaemonSet" for owner in metadata.get("ownerReferences") or [])


def _ref(pod: Mapping[str, Any]) -> str:
    return f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"
