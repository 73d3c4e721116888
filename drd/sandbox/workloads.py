"""Workload simulation: what kube-controller-manager and the kubelets would do, enough for readiness checks.

Deployments and StatefulSets get pods (owned by the workload; this simulator
has no ReplicaSet layer) and, after ``ready_delay_seconds``, Running/Ready pods
and the status fields ``kubectl rollout status`` reads (observedGeneration,
replicas, readyReplicas, availableReplicas, updatedReplicas, conditions),
counted from the pods that really are Ready. DaemonSets get a pod per node.
PersistentVolumeClaims bind to a new PersistentVolume. Jobs succeed (or fail
when annotated to). Orphan pods that match a workload's selector are adopted,
as the real controllers do with pods Velero restored without ownerReferences.
The ``sandbox.drd.dev/never-ready`` label on a workload keeps its pods unready
(a fault for drills).

Like the ReplicaSet and StatefulSet controllers, the simulator replaces a pod
of a Deployment or StatefulSet that is deleted or evicted, by itself: at once
the workload's status counts one Ready pod fewer and a replacement is created
(Pending), which turns Running and Ready ``ready_delay_seconds`` later. Like
the scheduler, it binds a pod only to a node that is schedulable (not
cordoned: ``spec.unschedulable``) and Ready, spreading a workload's pods over
them; with none, the pod stays Pending (``PodScheduled`` False,
``Unschedulable``) and the workload not Ready until a node can take it.
DaemonSet pods go on every node, cordoned or not, as their controller's
tolerations allow.
"""

from __future__ import annotations

import contextlib
import heapq
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from drd.clients.errors import KubeAlreadyExists, KubeError, KubeNotFound
from drd.clients.informer import Informer
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DAEMONSETS, DEPLOYMENTS, JOBS, NODES, PODS, PVCS, STATEFULSETS, Resource
from drd.velero.selection import matches_label_selector
from drd.velero.timefmt import rfc3339

log = structlog.get_logger(__name__)

NEVER_READY_LABEL = "sandbox.drd.dev/never-ready"
JOB_FAILS_ANNOTATION = "sandbox.drd.dev/fail"
_REPLACE = "replace:"
"""Marks a reconcile caused by a deleted pod: replace it now, start it after the ready delay."""
_REPLACING_OWNERS = {"Deployment": DEPLOYMENTS, "StatefulSet": STATEFULSETS}
"""Controllers that replace a deleted pod (the simulator owns pods by the workload, without ReplicaSets)."""
_PERSISTENT_VOLUMES = Resource("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False)


@dataclass
class WorkloadTimings:
    """How long the simulated cluster takes to converge."""

    ready_delay_seconds: float = 1.0
    """From a workload change to Ready pods and updated status."""
    bind_delay_seconds: float = 0.5
    """From a PVC's creation to Bound."""
    job_seconds: float = 1.0
    """How long a Job runs."""


class WorkloadSimulator:
    """Converges workloads, claims and jobs of one cluster."""

    def __init__(self, kube: KubeClient, *, timings: WorkloadTimings | None = None) -> None:
        self.kube = kube
        self.timings = timings or WorkloadTimings()
        self._stop = threading.Event()
        self._heap: list[tuple[float, int, Resource, str, str]] = []
        self._counter = 0
        self._wake = threading.Condition()
        self._informers: list[Informer] = []
        self._unscheduled: set[tuple[Resource, str, str]] = set()
        """Workloads with a Pending pod no node could take: reconciled again when a node changes."""
        self._thread: threading.Thread | None = None

    def start(self) -> WorkloadSimulator:
        for resource in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS, PVCS, JOBS):
            informer = Informer(self.kube, resource, self._on_event(resource), watch_timeout_seconds=30)
            self._informers.append(informer.start())
        self._informers.append(Informer(self.kube, PODS, self._on_pod, watch_timeout_seconds=30).start())
        self._informers.append(Informer(self.kube, NODES, self._on_node, watch_timeout_seconds=30).start())
        self._thread = threading.Thread(target=self._run, name=f"workloads-{self.kube.cluster}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for informer in self._informers:
            informer.stop()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _on_event(self, resource: Resource) -> Any:
        def handle(event_type: str, obj: Mapping[str, Any]) -> None:
            metadata = obj.get("metadata") or {}
            namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
            if event_type == "DELETED":
                if resource in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS):
                    self._schedule(0.0, PODS, namespace, f"orphaned-by:{name}")
                return
            if self._converged(resource, obj):
                return
            delay = {PVCS: self.timings.bind_delay_seconds, JOBS: self.timings.job_seconds}.get(
                resource, self.timings.ready_delay_seconds
            )
            self._schedule(delay, resource, namespace, name)

        return handle

    def _on_pod(self, event_type: str, pod: Mapping[str, Any]) -> None:
        """A deleted pod of a Deployment or StatefulSet: its controller notices at once and replaces it."""
        if event_type != "DELETED":
            return
        metadata = pod.get("metadata") or {}
        for ref in metadata.get("ownerReferences") or []:
            owner = _REPLACING_OWNERS.get(str(ref.get("kind")))
            if owner is not None and ref.get("controller"):
                self._schedule(0.0, owner, str(metadata.get("namespace", "")), f"{_REPLACE}{ref.get('name')}")

    def _on_node(self, event_type: str, node: Mapping[str, Any]) -> None:
        """A node that can take pods now: the workloads left with Pending pods try again."""
        if event_type == "DELETED" or not _schedulable(node):
            return
        with self._wake:
            waiting, self._unscheduled = self._unscheduled, set()
        for resource, namespace, name in sorted(waiting, key=lambda w: (w[0].plural, w[1], w[2])):
            self._schedule(self.timings.ready_delay_seconds, resource, namespace, name)

    def _converged(self, resource: Resource, obj: Mapping[str, Any]) -> bool:
        status = obj.get("status") or {}
        if resource == PVCS:
            return status.get("phase") == "Bound"
        if resource == JOBS:
            return bool(status.get("succeeded") or status.get("failed"))
        return status.get("observedGeneration") == (obj.get("metadata") or {}).get("generation")

    def _schedule(self, delay: float, resource: Resource, namespace: str, name: str) -> None:
        with self._wake:
            self._counter += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._counter, resource, namespace, name))
            self._wake.notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                while not self._stop.is_set() and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = (self._heap[0][0] - time.monotonic()) if self._heap else None
                    self._wake.wait(timeout=timeout if timeout is None or timeout > 0 else 0)
                if self._stop.is_set():
                    return
                _, _, resource, namespace, name = heapq.heappop(self._heap)
            try:
                self._reconcile(resource, namespace, name)
            except KubeError as exc:
                log.debug("workload_reconcile_failed", resource=resource.plural, name=name, error=str(exc))
                self._schedule(0.5, resource, namespace, name)
            except Exception:
                log.exception("workload_reconcile_crashed", resource=resource.plural, name=name)

    def _reconcile(self, resource: Resource, namespace: str, name: str) -> None:
        if resource == PODS:
            self._delete_orphans(namespace, name.removeprefix("orphaned-by:"))
            return
        replacing = name.startswith(_REPLACE)
        name = name.removeprefix(_REPLACE)
        obj = self.kube.find(resource, name, namespace=namespace)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        if resource == PVCS:
            self._bind(obj)
        elif resource == JOBS:
            self._finish_job(obj)
        elif replacing:  # the replacements start now and turn Ready after the delay, as a kubelet starts them
            self._converge_workload(resource, obj, start=False)
            self._schedule(self.timings.ready_delay_seconds, resource, namespace, name)
        else:
            self._converge_workload(resource, obj)

    def _converge_workload(self, resource: Resource, obj: Mapping[str, Any], *, start: bool = True) -> None:
        """Create or delete pods to match the spec, bind Pending ones, and write the status the pods justify.

        ``start=False`` (a pod was just deleted) creates the replacements but
        leaves the pods' readiness alone: a later pass starts them.
        """
        metadata, spec = obj["metadata"], obj.get("spec") or {}
        namespace, name = metadata["namespace"], metadata["name"]
        nodes = self.kube.list_objects(NODES).items
        if resource == DAEMONSETS:
            wanted = len(nodes)
        else:
            wanted = int(spec["replicas"]) if spec.get("replicas") is not None else 1
        ready = (metadata.get("labels") or {}).get(NEVER_READY_LABEL) != "true"
        if resource == STATEFULSETS:
            self._ensure_claims(obj, wanted)
        pods, missing = self._keep(resource, obj, wanted)
        placement = _Placement(nodes, pods, every_node=resource == DAEMONSETS)
        for index in missing:
            pods.append(self._create_pod(resource, obj, index, placement.node_for(index)))
        for position, pod in enumerate(pods):
            bound = pod if _node_of(pod) else self._bind_pod(pod, placement.node_for(position))
            pods[position] = self._set_pod_ready(bound, ready) if start and _node_of(bound) else bound
        with self._wake:
            if all(_node_of(p) for p in pods):
                self._unscheduled.discard((resource, namespace, name))
            else:
                self._unscheduled.add((resource, namespace, name))
        status = _workload_status(resource, pods, wanted, generation=metadata.get("generation", 1))
        self.kube.merge_patch(resource, name, {"status": status}, namespace=namespace, subresource="status")

    def _keep(self, resource: Resource, obj: Mapping[str, Any], wanted: int) -> tuple[list[dict[str, Any]], list[int]]:
        """Delete the pods beyond ``wanted``; the pods kept, and the indexes (StatefulSet ordinals) to create."""
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        pods = self._pods_for(obj)
        if resource != STATEFULSETS:
            for pod in pods[wanted:]:
                self._delete_pod(namespace, pod["metadata"]["name"])
            return pods[:wanted], list(range(min(len(pods), wanted), wanted))
        ordinals = {f"{name}-{index}": index for index in range(wanted)}
        for pod in pods:
            if pod["metadata"]["name"] not in ordinals:
                self._delete_pod(namespace, pod["metadata"]["name"])
        kept = [p for p in pods if p["metadata"]["name"] in ordinals]
        present = {p["metadata"]["name"] for p in kept}
        return kept, [index for pod_name, index in ordinals.items() if pod_name not in present]

    def _ensure_claims(self, statefulset: Mapping[str, Any], replicas: int) -> None:
        """One PVC per volumeClaimTemplate and ordinal, ``<template>-<set>-<i>``, never deleted (as in Kubernetes)."""
        metadata = statefulset["metadata"]
        templates = (statefulset.get("spec") or {}).get("volumeClaimTemplates") or []
        selector_labels = ((statefulset.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        for template in templates:
            for index in range(replicas):
                claim = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": f"{template['metadata']['name']}-{metadata['name']}-{index}",
                        "namespace": metadata["namespace"],
                        "labels": dict(selector_labels),
                    },
                    "spec": template.get("spec") or {},
                }
                with contextlib.suppress(KubeAlreadyExists):
                    self.kube.create(PVCS, claim, namespace=metadata["namespace"])

    def _pods_for(self, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
        metadata = owner["metadata"]
        selector = (owner.get("spec") or {}).get("selector") or {}
        pods = self.kube.list_objects(PODS, namespace=metadata["namespace"]).items
        owned, orphans = [], []
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            owners = pod["metadata"].get("ownerReferences") or []
            if any(ref.get("uid") == metadata["uid"] for ref in owners):
                owned.append(pod)
            elif not owners and selector and matches_label_selector(selector, pod["metadata"].get("labels")):
                orphans.append(pod)
        for pod in orphans:  # adoption, as the ReplicaSet/StatefulSet controllers do
            patch = {"metadata": {"ownerReferences": [_owner_reference(owner)]}}
            owned.append(self.kube.merge_patch(PODS, pod["metadata"]["name"], patch, namespace=metadata["namespace"]))
        return sorted(owned, key=lambda p: str(p["metadata"]["name"]))

    def _create_pod(self, resource: Resource, owner: Mapping[str, Any], index: int, node: str | None) -> dict[str, Any]:
        """A new pod of ``owner``, bound to ``node`` or, with ``None``, Pending: no node can take it."""
        metadata = owner["metadata"]
        template = (owner.get("spec") or {}).get("template") or {}
        name = (
            f"{metadata['name']}-{index}"
            if resource == STATEFULSETS
            else f"{metadata['name']}-{secrets.token_hex(4)}-{secrets.token_hex(2)[:3]}"
        )
        pod_spec = dict(template.get("spec") or {"containers": [{"name": "app", "image": "busybox"}]})
        pod_spec.pop("nodeName", None)
        if node:
            pod_spec["nodeName"] = node
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": metadata["namespace"],
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [_owner_reference(owner)],
            },
            "spec": pod_spec,
        }
        try:
            created = self.kube.create(PODS, pod, namespace=metadata["namespace"])
        except KubeAlreadyExists:
            return self.kube.get(PODS, name, namespace=metadata["namespace"])
        return created if node else self._mark_unschedulable(created)

    def _bind_pod(self, pod: Mapping[str, Any], node: str | None) -> dict[str, Any]:
        """Bind a Pending pod to ``node`` (the scheduler's ``pods/binding``), or leave it Pending when ``None``."""
        if node is None:
            return self._mark_unschedulable(pod)
        metadata = pod["metadata"]
        return self.kube.merge_patch(
            PODS, metadata["name"], {"spec": {"nodeName": node}}, namespace=metadata["namespace"]
        )

    def _mark_unschedulable(self, pod: Mapping[str, Any]) -> dict[str, Any]:
        """Pending with the scheduler's verdict, unless it says so already."""
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions):
            return dict(pod)
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0 nodes are available: no node is both schedulable and Ready.",
            "lastTransitionTime": rfc3339_now(),
        }
        status = {"phase": "Pending", "conditions": [condition]}
        metadata = pod["metadata"]
        return self.kube.merge_patch(
            PODS, metadata["name"], {"status": status}, namespace=metadata["namespace"], subresource="status"
        )

    def _set_pod_ready(self, pod: Mapping[str, Any], ready: bool) -> dict[str, Any]:
        """Running, with Ready as asked (nothing written when the pod already is so)."""
        status = pod.get("status") or {}
        if status.get("phase") == "Running" and _pod_ready(pod) == ready:
            return dict(pod)
        containers = (pod.get("spec") or {}).get("containers") or []
        flag = "True" if ready else "False"
        now = rfc3339_now()
        new_status = {
            "phase": "Running",
            "podIP": f"10.0.{secrets.randbelow(250)}.{secrets.randbelow(250) + 2}",
            "startTime": now,
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
                {"type": "Ready", "status": flag, "lastTransitionTime": now},
            ],
            "containerStatuses": [
                {
                    "name": c.get("name", "app"),
                    "image": c.get("image", ""),
                    "ready": ready,
                    "restartCount": 0,
                    "started": True,
                    "state": {"running": {"startedAt": now}},
                }
                for c in containers
            ],
        }
        return self.kube.merge_patch(
            PODS,
            pod["metadata"]["name"],
            {"status": new_status},
            namespace=pod["metadata"]["namespace"],
            subresource="status",
        )

    def _delete_pod(self, namespace: str, name: str) -> None:
        try:
            self.kube.delete(PODS, name, namespace=namespace)
        except KubeNotFound:
            return

    def _delete_orphans(self, namespace: str, owner_name: str) -> None:
        for pod in self.kube.list_objects(PODS, namespace=namespace).items:
            refs = pod["metadata"].get("ownerReferences") or []
            if any(ref.get("name") == owner_name for ref in refs):
                self._delete_pod(namespace, pod["metadata"]["name"])

    def _bind(self, claim: Mapping[str, Any]) -> None:
        metadata, spec = claim["metadata"], claim.get("spec") or {}
        volume = f"pvc-{metadata['uid']}"
        size = str(((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi"))
        access_modes = list(spec.get("accessModes") or ["ReadWriteOnce"])
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {
                "name": volume,
                "annotations": {"pv.kubernetes.io/provisioned-by": "sandbox.drd.dev/hostpath"},
            },
            "spec": {
                "capacity": {"storage": size},
                "accessModes": access_modes,
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": spec.get("storageClassName") or "standard",
                "claimRef": {
                    "kind": "PersistentVolumeClaim",
                    "namespace": metadata["namespace"],
                    "name": metadata["name"],
                    "uid": metadata["uid"],
                },
                "hostPath": {"path": f"/var/lib/sandbox/{volume}"},
            },
        }
        with contextlib.suppress(KubeAlreadyExists):
            self.kube.create(_PERSISTENT_VOLUMES, pv)
        annotations = {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes"}
        self.kube.merge_patch(
            PVCS,
            metadata["name"],
            {"metadata": {"annotations": annotations}, "spec": {"volumeName": volume}},
            namespace=metadata["namespace"],
        )
        status = {"phase": "Bound", "accessModes": access_modes, "capacity": {"storage": size}}
        self.kube.merge_patch(
            PVCS, metadata["name"], {"status": status}, namespace=metadata["namespace"], subresource="status"
        )

    def _finish_job(self, job: Mapping[str, Any]) -> None:
        metadata = job["metadata"]
        fails = (metadata.get("annotations") or {}).get(JOB_FAILS_ANNOTATION) == "true"
        now = rfc3339_now()
        condition = {"type": "Failed" if fails else "Complete", "status": "True", "lastTransitionTime": now}
        status: dict[str, Any] = {"startTime": now, "conditions": [condition]}
        status |= {"failed": 1} if fails else {"succeeded": 1, "completionTime": now}
        self.kube.merge_patch(
            JOBS, metadata["name"], {"status": status}, namespace=metadata["namespace"], subresource="status"
        )


class _Placement:
    """The scheduler's choice for a workload's pods: a schedulable, Ready node with the fewest of its pods.

    DaemonSet pods go on every node in turn (their controller tolerates
    cordons and the not-ready taints).
    """

    def __init__(self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]], *, every_node: bool) -> None:
        self._every_node = every_node
        self._all = sorted(str(n["metadata"]["name"]) for n in nodes)
        self._load = {str(n["metadata"]["name"]): 0 for n in nodes if _schedulable(n)}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName")
            if node in self._load:
                self._load[node] += 1

    def node_for(self, index: int) -> str | None:
        """The node for the next pod (``index``: a DaemonSet's node number), or None when none can take it."""
        if self._every_node:
            return self._all[index % len(self._all)] if self._all else None
        if not self._load:
            return None
        node = min(sorted(self._load), key=lambda n: self._load[n])
        self._load[node] += 1
        return node


def _workload_status(resource: Resource, pods: list[dict[str, Any]], wanted: int, *, generation: int) -> dict[str, Any]:
    """The status the workload's controller would write for these pods."""
    ready = sum(1 for p in pods if _pod_ready(p))
    status: dict[str, Any] = {"observedGeneration": generation}
    if resource == DAEMONSETS:
        scheduled = sum(1 for p in pods if _node_of(p))
        return status | {
            "desiredNumberScheduled": wanted,
            "currentNumberScheduled": scheduled,
            "updatedNumberScheduled": scheduled,
            "numberReady": ready,
            "numberAvailable": ready,
            "numberUnavailable": wanted - ready,
            "numberMisscheduled": 0,
        }
    return status | {
        "replicas": len(pods),
        "updatedReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": len(pods),
        "conditions": _conditions(available=ready >= wanted),
    }


def _node_of(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def _schedulable(node: Mapping[str, Any]) -> bool:
    """Not cordoned and Ready: the only nodes the scheduler binds new pods to."""
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner.get("apiVersion", "apps/v1"),
        "kind": owner.get("kind", ""),
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _conditions(*, available: bool) -> list[dict[str, str]]:
    now = rfc3339_now()
    return [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "lastTransitionTime": now,
        },
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastTransitionTime": now},
    ]


def rfc3339_now() -> str:
    return rfc3339(datetime.now(UTC))
