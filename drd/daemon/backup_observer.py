"""Watches drd's Velero Backups in every source cluster and keeps the store and the metrics honest.

One informer per source cluster (list, then watch: phase changes reach the
store within milliseconds, with no polling). Every event upserts the backup's
record; a backup seen for the first time in a terminal phase is counted once
in the metrics, logged as the canonical ``backup_finished`` line, and, when it
did not complete, announced. Because records are keyed by cluster and name,
a new leader, or a daemon restarted after downtime, catches up from the Backup
objects Velero made meanwhile without counting anything twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from drd.backups.observe import BackupObservation, observation, outcome_of
from drd.clients.informer import Informer
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS
from drd.clock import Clock
from drd.operations import labels, notification
from drd.operations.notify import Notifier
from drd.outcomes import Outcome
from drd.policy.models.cluster import Cluster
from drd.store import Store
from drd.velero.vocabulary import BackupPhase

log = structlog.get_logger("drd.outcome")


class BackupObserver:
    """Informers on the Backups of each source cluster, feeding the store, the metrics and notifications."""

    def __init__(
        self,
        *,
        store: Store,
        record_metrics: Callable[[Outcome], None],
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self.store = store
        self.record_metrics = record_metrics
        self.notifier = notifier
        self.clock = clock
        self._informers: dict[str, Informer] = {}
        self._terminal: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def watch(self, clusters: Mapping[str, tuple[Cluster, KubeClient]]) -> None:
        """Observe exactly these clusters (start new informers, stop those of clusters no longer wanted)."""
        with self._lock:
            for name in [n for n in self._informers if n not in clusters]:
                self._informers.pop(name).stop()
            for name, (cluster, kube) in clusters.items():
                current = self._informers.get(name)
                if current is not None and current.kube is kube and current.namespace == cluster.spec.velero_namespace:
                    continue
                if current is not None:
                    current.stop()
                self._terminal[name] = self.store.backup_names(cluster=name, phases=tuple(BackupPhase.TERMINAL))
                informer = Informer(
                    kube,
                    VELERO_BACKUPS,
                    self._handler(name, kube),
                    namespace=cluster.spec.velero_namespace,
                    label_selector=f"{labels.MANAGED_BY}={labels.MANAGER}",
                )
                self._informers[name] = informer.start()

    def stop(self) -> None:
        """Stop every informer (when this replica stops leading, or shuts down)."""
        with self._lock:
            for informer in self._informers.values():
                informer.stop()
            self._informers.clear()

    def synced(self, timeout: float = 5.0) -> bool:
        """Whether every informer has finished its first list."""
        with self._lock:
            informers = list(self._informers.values())
        return all(i.synced.wait(timeout) for i in informers)

    def _handler(self, cluster: str, kube: KubeClient) -> Callable[[str, Mapping[str, Any]], None]:
        def handle(event_type: str, obj: Mapping[str, Any]) -> None:
            observed = observation(obj, cluster=cluster)
            if observed is None:
                return
            if event_type == "DELETED":
                self.store.mark_backup_deleted(cluster, observed.name, at=self.clock.now())
                return
            self.store.record_backup(**observed.record_fields())
            if observed.terminal:
                self._finished(observed, obj, kube)

        return handle

    def _finished(self, observed: BackupObservation, obj: Mapping[str, Any], kube: KubeClient) -> None:
        known = self._terminal.setdefault(observed.cluster, set())
        if observed.name in known:
            return
        known.add(observed.name)
        outcome = outcome_of(observed, observed_at=self.clock.now())
        if outcome is None:
            return
        self.record_metrics(outcome)
        level = "info" if outcome.phase.succeeded else "warning"
        getattr(log, level)("backup_finished", **outcome.fields())
        if not outcome.phase.succeeded:
            notice = notification.backup_failed(
                policy=observed.policy,
                cluster=observed.cluster,
                phase=observed.phase,
                backup=notification.ObjectRef.of(obj),
                reason=observed.reason,
            )
            self.notifier.notify(notice, kube=kube)
