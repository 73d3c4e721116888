"""One run at a time per target: a ``coordination.k8s.io/v1`` Lease per target, held by a *run*.

The lock of target ``cluster/namespace`` (or ``cluster/*`` for a whole cluster)
is a Lease named ``drd-lock-<hash>`` in drd's namespace of the target cluster.
Its ``holderIdentity`` is the run's id, not a process: a run waiting for an
approval, paused, or interrupted by a crash keeps its lock, and whoever resumes
the run re-adopts it. Lock truth derives from run state, so a lock can never be
stuck: a Lease whose run is finished or unknown is free to take (Argo's "restart
the controller to release the mutex" class of bugs cannot happen).

``renewTime`` is a heartbeat of the process *executing* the run (annotation
``drd.dev/executor``): a run whose heartbeat is older than the lease duration
has no live executor, which is how the daemon finds interrupted runs to resume
and how two processes are kept from executing the same run.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drd.clients.errors import KubeAlreadyExists, KubeConflict, KubeNotFound
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import LEASES, NAMESPACES
from drd.clock import Clock
from drd.errors import PermanentError, TemporaryError
from drd.operations.labels import MANAGED_BY, MANAGER
from drd.operations.leases import LeaseSpec, micro_time
from drd.velero.timefmt import parse_rfc3339

EXECUTOR = "drd.dev/executor"
"""Annotation: the process executing the run now (its heartbeat is ``renewTime``)."""
TARGET = "drd.dev/lock-target"
"""Annotation: the target the Lease locks, in clear (the name is a hash)."""
LOCK_LABEL = "drd.dev/lock"


@dataclass(frozen=True, slots=True)
class Target:
    """What a run mutates: a namespace of a cluster, or a whole cluster (``namespace=None``)."""

    cluster: str
    namespace: str | None = None

    @property
    def key(self) -> str:
        """``cluster/namespace`` or ``cluster/*``."""
        return f"{self.cluster}/{self.namespace or '*'}"

    @property
    def lease_name(self) -> str:
        """A valid object name for any key (namespaces may be 63 characters long)."""
        return "drd-lock-" + hashlib.sha256(self.key.encode()).hexdigest()[:20]


class LockHeld(PermanentError):
    """Another unfinished run holds the target."""

    def __init__(self, target: Target, holder: str) -> None:
        super().__init__(f"{target.key} is locked by run {holder}, which has not finished")
        self.target = target
        self.holder = holder


class RunExecuting(TemporaryError):
    """Another live process is executing this run right now (or died less than a lease ago)."""

    def __init__(self, run_id: str, executor: str, *, until: datetime | None = None) -> None:
        when = (
            f" (its heartbeat is valid until {until:%H:%M:%S} UTC: if that process is dead, retry then)"
            if until
            else ""
        )
        super().__init__(f"run {run_id} is being executed by {executor}{when}", delay=5.0)
        self.executor = executor


@dataclass(frozen=True, slots=True)
class LockState:
    """What a target's Lease says: who holds it and whether its executor is alive."""

    holder: str | None
    executor: str | None
    heartbeat: datetime | None
    duration_seconds: int

    @property
    def expires(self) -> datetime | None:
        """When the executor's heartbeat lapses unless renewed."""
        return self.heartbeat + timedelta(seconds=self.duration_seconds) if self.heartbeat else None

    def executor_alive(self, now: datetime) -> bool:
        """A heartbeat younger than the lease duration means a process is executing the run."""
        if not self.executor or self.heartbeat is None:
            return False
        return now - self.heartbeat < timedelta(seconds=self.duration_seconds)


class RunLocks:
    """Acquire, re-adopt, heartbeat and release target locks.

    ``kube_of(cluster)`` gives the client of a target cluster; ``run_is_live(run_id)``
    says whether a run is still unfinished (from drd's store), which decides whether a
    Lease held by another run still counts.
    """

    def __init__(
        self,
        *,
        kube_of: Callable[[str], KubeClient],
        run_is_live: Callable[[str], bool],
        clock: Clock,
        namespace: str = "drd",
        duration_seconds: int = 30,
    ) -> None:
        self._kube_of = kube_of
        self._run_is_live = run_is_live
        self._clock = clock
        self.namespace = namespace
        self.duration_seconds = duration_seconds

    def state(self, target: Target) -> LockState:
        """The Lease as it is now (an absent Lease is a free lock)."""
        lease = self._kube_of(target.cluster).find(LEASES, target.lease_name, namespace=self.namespace)
        return _state(lease) if lease else LockState(None, None, None, self.duration_seconds)

    def acquire(self, target: Target, run_id: str, *, executor: str) -> None:
        """Take the lock for ``run_id`` (or re-adopt it), and claim execution of the run.

        Raises :class:`LockHeld` when another unfinished run holds it, :class:`RunExecuting`
        when another live process is executing this very run.
        """
        kube = self._kube_of(target.cluster)
        for _ in range(5):
            lease = kube.find(LEASES, target.lease_name, namespace=self.namespace)
            if lease is None:
                self._ensure_namespace(kube)
                body = self._new_lease(target, run_id, executor)
                with contextlib.suppress(KubeAlreadyExists):
                    kube.create(LEASES, body, namespace=self.namespace)
                    return
                continue
            state = _state(lease)
            if state.holder and state.holder != run_id and self._run_is_live(state.holder):
                raise LockHeld(target, state.holder)
            foreign = state.holder == run_id and state.executor not in (None, executor)
            if foreign and state.executor_alive(self._clock.now()):
                raise RunExecuting(run_id, state.executor or "", until=state.expires)
            with contextlib.suppress(KubeConflict, KubeNotFound):
                kube.replace(LEASES, self._claimed(lease, run_id, executor), namespace=self.namespace)
                return
        raise TemporaryError(f"could not take the lock of {target.key}: it kept changing", delay=1.0)

    def heartbeat(self, target: Target, run_id: str, *, executor: str) -> None:
        """Renew the executor's heartbeat; raises LockHeld if the lock was taken away."""
        kube = self._kube_of(target.cluster)
        lease = kube.find(LEASES, target.lease_name, namespace=self.namespace)
        if lease is None or _state(lease).holder != run_id:
            raise LockHeld(target, _state(lease).holder or "nobody" if lease else "nobody")
        with contextlib.suppress(KubeConflict):  # written between our read and write: the next beat reads again
            kube.replace(LEASES, self._claimed(lease, run_id, executor), namespace=self.namespace)

    def stop_executing(self, target: Target, run_id: str) -> None:
        """Keep the lock for the run, but say nobody executes it now (waiting for a human)."""
        self._rewrite(target, run_id, lambda lease: self._claimed(lease, run_id, ""))

    def release(self, target: Target, run_id: str) -> None:
        """Give the lock up (the run finished); a lock held by another run is left alone."""
        kube = self._kube_of(target.cluster)
        lease = kube.find(LEASES, target.lease_name, namespace=self.namespace)
        if lease is None or _state(lease).holder != run_id:
            return
        with contextlib.suppress(KubeNotFound):
            kube.delete(LEASES, target.lease_name, namespace=self.namespace)

    def _rewrite(self, target: Target, run_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        kube = self._kube_of(target.cluster)
        lease = kube.find(LEASES, target.lease_name, namespace=self.namespace)
        if lease is None or _state(lease).holder != run_id:
            return
        with contextlib.suppress(KubeConflict, KubeNotFound):
            kube.replace(LEASES, change(lease), namespace=self.namespace)

    def _claimed(self, lease: dict[str, Any], run_id: str, executor: str) -> dict[str, Any]:
        now = micro_time(self._clock.now())
        current = LeaseSpec.of(lease)
        spec = LeaseSpec(
            holder=run_id,
            duration_seconds=self.duration_seconds,
            acquire_time=current.acquire_time if current.holder == run_id and current.acquire_time else now,
            renew_time=now,
            transitions=current.transitions + (0 if current.holder == run_id else 1),
        )
        metadata = dict(lease.get("metadata") or {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), EXECUTOR: executor}
        return {**lease, "metadata": metadata, "spec": spec.to_spec()}

    def _new_lease(self, target: Target, run_id: str, executor: str) -> dict[str, Any]:
        now = micro_time(self._clock.now())
        return {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": {
                "name": target.lease_name,
                "namespace": self.namespace,
                "labels": {MANAGED_BY: MANAGER, LOCK_LABEL: "true"},
                "annotations": {TARGET: target.key, EXECUTOR: executor},
            },
            "spec": LeaseSpec(run_id, self.duration_seconds, now, now, 0).to_spec(),
        }

    def _ensure_namespace(self, kube: KubeClient) -> None:
        if kube.find(NAMESPACES, self.namespace) is not None:
            return
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        with contextlib.suppress(KubeAlreadyExists):
            kube.create(NAMESPACES, body)


def _state(lease: dict[str, Any]) -> LockState:
    spec = LeaseSpec.of(lease)
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    return LockState(
        holder=spec.holder or None,
        executor=annotations.get(EXECUTOR) or None,
        heartbeat=parse_rfc3339(spec.renew_time) if spec.renew_time else None,
        duration_seconds=spec.duration_seconds or 30,
    )
