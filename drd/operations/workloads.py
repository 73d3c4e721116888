"""Workloads in a namespace: are they Ready, wait until they are, scale them, keep CronJobs from firing.

Readiness is read from the status fields the controllers write, the way
``kubectl rollout status`` reads them: the controller has observed the latest
spec (``observedGeneration`` ≥ ``generation``), every desired replica is
updated and ready (Deployments and StatefulSets: ``updatedReplicas`` and
``readyReplicas`` against ``spec.replicas``; DaemonSets:
``updatedNumberScheduled`` and ``numberReady`` against
``desiredNumberScheduled``). A workload scaled to zero is Ready once observed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import CRONJOBS, DAEMONSETS, DEPLOYMENTS, STATEFULSETS, Resource
from drd.clock import Clock, SystemClock
from drd.errors import PermanentError
from drd.operations import waiting

WORKLOAD_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet", "DaemonSet")
"""The kinds :func:`workloads` and :func:`wait_until_ready` look at by default."""
SCALABLE_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet")
_RESOURCES: dict[str, Resource] = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS, "DaemonSet": DAEMONSETS}


@dataclass(frozen=True, slots=True)
class WorkloadStatus:
    """One workload's readiness."""

    kind: str
    name: str
    desired: int
    """Replicas wanted (DaemonSets: nodes the pods should run on)."""
    ready: int
    is_ready: bool
    namespace: str = ""
    reason: str = ""
    """Why it is not Ready (``1/2 ready``, ``generation 3 not observed yet``); empty when Ready."""

    def __str__(self) -> str:
        state = "Ready" if self.is_ready else self.reason
        return f"{self.kind}/{self.name} ({state})"


class WorkloadsNotReady(waiting.WaitTimedOut):
    """Workloads were still not Ready at the deadline; ``not_ready`` says which, and why."""

    def __init__(
        self, kube: KubeClient, *, namespace: str, waited: float, not_ready: Sequence[WorkloadStatus], cause: str = ""
    ) -> None:
        listed = ", ".join(str(w) for w in not_ready) or "none (they became Ready at the deadline)"
        super().__init__(
            kube,
            what=f"workloads in namespace {namespace} to be Ready",
            waited=waited,
            last_seen=f"not Ready: {listed}",
            cause=cause,
        )
        self.namespace = namespace
        self.not_ready = tuple(not_ready)


def workload_status(obj: Mapping[str, Any]) -> WorkloadStatus:
    """The readiness of a Deployment, StatefulSet or DaemonSet as the API returned it."""
    kind = str(obj.get("kind") or "")
    metadata, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if kind == "DaemonSet":
        desired = int(status.get("desiredNumberScheduled") or 0)
        ready, updated = int(status.get("numberReady") or 0), int(status.get("updatedNumberScheduled") or 0)
    elif kind in ("Deployment", "StatefulSet"):
        desired = int(spec["replicas"]) if spec.get("replicas") is not None else 1
        ready, updated = int(status.get("readyReplicas") or 0), int(status.get("updatedReplicas") or 0)
    else:
        what = kind or "an object without kind"
        raise PermanentError(f"{what} is not a workload: expected one of {', '.join(WORKLOAD_KINDS)}")
    generation = int(metadata.get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if observed < generation:
        reason = f"generation {generation} not observed yet"
    elif updated < desired:
        reason = f"{updated}/{desired} updated"
    elif ready < desired:
        reason = f"{ready}/{desired} ready"
    else:
        reason = ""
    return WorkloadStatus(
        kind=kind,
        name=str(metadata.get("name") or ""),
        desired=desired,
        ready=ready,
        is_ready=not reason,
        namespace=str(metadata.get("namespace") or ""),
        reason=reason,
    )


def workloads(
    kube: KubeClient, namespace: str, kinds: Sequence[str] = WORKLOAD_KINDS, *, label_selector: str | None = None
) -> list[WorkloadStatus]:
    """Every workload of ``kinds`` in the namespace, by kind (in ``kinds`` order) then name."""
    found: list[WorkloadStatus] = []
    for kind in kinds:
        items = kube.list_objects(_resource(kind), namespace=namespace, label_selector=label_selector).items
        found += sorted((workload_status(_with_kind(o, kind)) for o in items), key=lambda w: w.name)
    return found


def wait_until_ready(
    kube: KubeClient,
    namespace: str,
    *,
    kinds: Sequence[str] = WORKLOAD_KINDS,
    label_selector: str | None = None,
    timeout_seconds: float,
    clock: Clock | None = None,
) -> list[WorkloadStatus]:
    """Watch until every workload of ``kinds`` in the namespace is Ready at once; return their statuses.

    Waits kind by kind within one deadline, then checks all together (one may
    have regressed meanwhile) and goes round again if needed. A namespace
    without workloads is trivially Ready (``[]``): callers that expect some
    check the result. Raises :class:`WorkloadsNotReady` naming each workload
    that is not Ready, and why, after ``timeout_seconds``.
    """
    clock = clock or SystemClock()
    for kind in kinds:
        _resource(kind)
    deadline = clock.monotonic() + timeout_seconds
    cause = ""
    while True:
        try:
            for kind in kinds:
                waiting.wait_for_all(
                    kube,
                    _resource(kind),
                    namespace=namespace,
                    label_selector=label_selector,
                    until_all=_all_ready(kind),
                    timeout_seconds=max(0.0, deadline - clock.monotonic()),
                    what=f"{kind}s in namespace {namespace} to be Ready",
                    clock=clock,
                )
        except waiting.WaitTimedOut as timed_out:
            cause = timed_out.cause
            break
        statuses = workloads(kube, namespace, kinds, label_selector=label_selector)
        if all(w.is_ready for w in statuses):
            return statuses
        if clock.monotonic() >= deadline:
            break
    not_ready = [w for w in workloads(kube, namespace, kinds, label_selector=label_selector) if not w.is_ready]
    raise WorkloadsNotReady(kube, namespace=namespace, waited=timeout_seconds, not_ready=not_ready, cause=cause)


def scale(kube: KubeClient, kind: str, name: str, *, namespace: str, replicas: int) -> int:
    """Set a Deployment's or StatefulSet's replicas through its ``scale`` subresource; return the previous count.

    The write is guarded by the resourceVersion read (a concurrent change is a
    KubeConflict, a TemporaryError); nothing is written when the count is
    already right.
    """
    if kind not in SCALABLE_KINDS:
        raise PermanentError(f"{kind} cannot be scaled: expected one of {', '.join(SCALABLE_KINDS)}")
    if replicas < 0:
        raise PermanentError(f"replicas must be zero or more, not {replicas}")
    resource = _resource(kind)
    current = kube.get_path(resource.path(namespace=namespace, name=name, subresource="scale"))
    previous = int((current.get("spec") or {}).get("replicas") or 0)
    if previous != replicas:
        guard = {"resourceVersion": current["metadata"]["resourceVersion"]}
        patch = {"metadata": guard, "spec": {"replicas": replicas}}
        kube.merge_patch(resource, name, patch, namespace=namespace, subresource="scale")
    return previous


def scale_all(
    kube: KubeClient, kind: str, *, namespace: str, replicas: int, label_selector: str | None = None
) -> dict[str, int]:
    """Scale every Deployment or StatefulSet (matching the selector) in the namespace: name → previous replicas."""
    if kind not in SCALABLE_KINDS:
        raise PermanentError(f"{kind} cannot be scaled: expected one of {', '.join(SCALABLE_KINDS)}")
    items = kube.list_objects(_resource(kind), namespace=namespace, label_selector=label_selector).items
    names = sorted(str(o["metadata"]["name"]) for o in items)
    return {name: scale(kube, kind, name, namespace=namespace, replicas=replicas) for name in names}


def suspend_cronjobs(kube: KubeClient, namespace: str) -> list[str]:
    """Suspend every CronJob in the namespace; return the names this call suspended (not those already suspended)."""
    suspended = []
    for cronjob in kube.list_objects(CRONJOBS, namespace=namespace).items:
        if (cronjob.get("spec") or {}).get("suspend") is True:
            continue
        name = str(cronjob["metadata"]["name"])
        kube.merge_patch(CRONJOBS, name, {"spec": {"suspend": True}}, namespace=namespace)
        suspended.append(name)
    return sorted(suspended)


def resume_cronjobs(kube: KubeClient, namespace: str, names: Sequence[str]) -> list[str]:
    """Undo :func:`suspend_cronjobs` for these names; return those resumed (missing ones are skipped)."""
    resumed = []
    for name in names:
        if kube.find(CRONJOBS, name, namespace=namespace) is None:
            continue
        kube.merge_patch(CRONJOBS, name, {"spec": {"suspend": False}}, namespace=namespace)
        resumed.append(name)
    return resumed


def _all_ready(kind: str) -> Callable[[list[dict[str, Any]]], list[WorkloadStatus] | None]:
    """The predicate "every one of these ``kind`` objects is Ready" (their statuses, or None)."""

    def check(objects: list[dict[str, Any]]) -> list[WorkloadStatus] | None:
        statuses = [workload_status(_with_kind(o, kind)) for o in objects]
        return statuses if all(w.is_ready for w in statuses) else None

    return check


def _with_kind(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    """List items may come without ``kind`` (the apiserver leaves it on the list): put it back."""
    return obj if obj.get("kind") else {**obj, "kind": kind}


def _resource(kind: str) -> Resource:
    try:
        return _RESOURCES[kind]
    except KeyError:
        raise PermanentError(f"{kind} is not a workload kind: expected one of {', '.join(WORKLOAD_KINDS)}") from None
