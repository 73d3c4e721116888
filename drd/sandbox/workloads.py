"""Workload simulation: what kube-controller-manager and the kubelets would do, enough for readiness checks.

Deployments and StatefulSets get pods (owned by the workload; this simulator
has no ReplicaSet layer) and, after ``ready_delay_seconds``, Running/Ready pods
and the status fields ``kubectl rollout status`` reads (observedGeneration,
replicas, readyReplicas, availableReplicas, updatedReplicas, conditions).
DaemonSets get a pod per node. PersistentVolumeClaims bind to a new
PersistentVolume. Jobs succeed (or fail when annotated to). Orphan pods that
match a workload's selector are adopted, as the real controllers do with pods
Velero restored without ownerReferences. The ``sandbox.drd.dev/never-ready``
label on a workload keeps its pods unready (a fault for drills).
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
        self._thread: threading.Thread | None = None

    def start(self) -> WorkloadSimulator:
        for resource in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS, PVCS, JOBS):
            informer = Informer(self.kube, resource, self._on_event(resource), watch_timeout_seconds=30)
            self._informers.append(informer.start())
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
        obj = self.kube.find(resource, name, namespace=namespace)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        if resource == PVCS:
            self._bind(obj)
        elif resource == JOBS:
            self._finish_job(obj)
        else:
            self._converge_workload(resource, obj)

    def _converge_workload(self, resource: Resource, obj: Mapping[str, Any]) -> None:
        metadata, spec = obj["metadata"], obj.get("spec") or {}
        namespace, name = metadata["namespace"], metadata["name"]
        if resource == DAEMONSETS:
            wanted = len(self.kube.list_objects(NODES).items)
        else:
            wanted = int(spec["replicas"]) if spec.get("replicas") is not None else 1
        ready = (metadata.get("labels") or {}).get(NEVER_READY_LABEL) != "true"
        if resource == STATEFULSETS:
            self._ensure_claims(obj, wanted)
        pods = self._pods_for(obj)
        for pod in pods[wanted:]:
            self._delete_pod(namespace, pod["metadata"]["name"])
        pods = pods[:wanted]
        for index in range(len(pods), wanted):
            pods.append(self._create_pod(resource, obj, index))
        for pod in pods:
            self._set_pod_ready(pod, ready)
        ready_count = wanted if ready else 0
        status: dict[str, Any] = {"observedGeneration": metadata.get("generation", 1)}
        if resource == DAEMONSETS:
            status |= {
                "desiredNumberScheduled": wanted,
                "currentNumberScheduled": wanted,
                "updatedNumberScheduled": wanted,
                "numberReady": ready_count,
                "numberAvailable": ready_count,
                "numberMisscheduled": 0,
            }
        else:
            status |= {
                "replicas": wanted,
                "updatedReplicas": wanted,
                "readyReplicas": ready_count,
                "availableReplicas": ready_count,
                "currentReplicas": wanted,
            }
            status["conditions"] = _conditions(available=ready_count >= wanted)
        self.kube.merge_patch(resource, name, {"status": status}, namespace=namespace, subresource="status")

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

    def _create_pod(self, resource: Resource, owner: Mapping[str, Any], index: int) -> dict[str, Any]:
        metadata = owner["metadata"]
        template = (owner.get("spec") or {}).get("template") or {}
        name = (
            f"{metadata['name']}-{index}"
            if resource == STATEFULSETS
            else f"{metadata['name']}-{secrets.token_hex(4)}-{secrets.token_hex(2)[:3]}"
        )
        node = self._node_name(index)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": metadata["namespace"],
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [_owner_reference(owner)],
            },
            "spec": {
                **(template.get("spec") or {"containers": [{"name": "app", "image": "busybox"}]}),
                "nodeName": node,
            },
        }
        try:
            return self.kube.create(PODS, pod, namespace=metadata["namespace"])
        except KubeAlreadyExists:
            return self.kube.get(PODS, name, namespace=metadata["namespace"])

    def _node_name(self, index: int) -> str:
        nodes = self.kube.list_objects(NODES).items
        return str(nodes[index % len(nodes)]["metadata"]["name"]) if nodes else ""

    def _set_pod_ready(self, pod: Mapping[str, Any], ready: bool) -> None:
        containers = (pod.get("spec") or {}).get("containers") or []
        flag = "True" if ready else "False"
        now = rfc3339_now()
        status = {
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
        self.kube.merge_patch(
            PODS,
            pod["metadata"]["name"],
            {"status": status},
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
