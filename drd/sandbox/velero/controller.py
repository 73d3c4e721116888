"""One simulated Velero server: informers feed work queues, workers reconcile, a ticker runs periodic loops.

Threads: an informer per Velero resource type; a backup worker (Velero v1.18's
default ``--concurrent-backups 1``); a restore worker; a worker for requests
(DeleteBackupRequest, DownloadRequest, ServerStatusRequest); and a ticker for
schedules, location validation, backup sync, GC and request expiry.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import structlog

from drd.clients.errors import KubeError, StorageError
from drd.clients.informer import Informer
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import (
    VELERO_BACKUPS,
    VELERO_DELETE_REQUESTS,
    VELERO_DOWNLOAD_REQUESTS,
    VELERO_RESTORES,
    VELERO_STATUS_REQUESTS,
    Resource,
)
from drd.clock import Clock, SystemClock
from drd.sandbox.velero import backups, deletion, locations, requests, restores, schedules, sync
from drd.sandbox.velero.config import VeleroFaults, VeleroTimings
from drd.sandbox.velero.context import SimContext
from drd.sandbox.velero.storage import BucketResolver
from drd.velero.timefmt import rfc3339
from drd.velero.vocabulary import BackupPhase, RestorePhase

log = structlog.get_logger(__name__)

Reconcile = Callable[[SimContext, str], None]


class VeleroSimulator:
    """The simulated Velero server of one cluster."""

    def __init__(
        self,
        kube: KubeClient,
        resolver: BucketResolver,
        *,
        namespace: str = "velero",
        timings: VeleroTimings | None = None,
        faults: VeleroFaults | None = None,
        clock: Clock | None = None,
        queue_mode: bool = True,
    ) -> None:
        self.ctx = SimContext(
            kube=kube,
            resolver=resolver,
            clock=clock or SystemClock(),
            namespace=namespace,
            timings=timings or VeleroTimings(),
            faults=faults or VeleroFaults(),
            queue_mode=queue_mode,
        )
        self._queues: dict[str, queue.Queue[tuple[Reconcile, str] | None]] = {
            "backups": queue.Queue(),
            "restores": queue.Queue(),
            "requests": queue.Queue(),
        }
        self._informers: list[Informer] = []
        self._threads: list[threading.Thread] = []
        self._last_synced: dict[str, datetime] = {}
        self._last_validated: dict[str, datetime] = {}
        self._last_run: dict[str, float] = {}

    @property
    def faults(self) -> VeleroFaults:
        return self.ctx.faults

    @property
    def timings(self) -> VeleroTimings:
        return self.ctx.timings

    def start(self) -> VeleroSimulator:
        """Mark interrupted work Failed (as Velero does at start-up), then start observing and working."""
        self._fail_interrupted()
        watched: list[tuple[Resource, str, Reconcile]] = [
            (VELERO_BACKUPS, "backups", backups.reconcile_backup),
            (VELERO_RESTORES, "restores", restores.reconcile_restore),
            (VELERO_DELETE_REQUESTS, "requests", deletion.reconcile_delete_request),
            (VELERO_DOWNLOAD_REQUESTS, "requests", requests.reconcile_download_request),
            (VELERO_STATUS_REQUESTS, "requests", requests.reconcile_status_request),
        ]
        for resource, queue_name, reconcile in watched:
            handler = self._enqueuer(queue_name, reconcile)
            informer = Informer(
                self.ctx.kube, resource, handler, namespace=self.ctx.namespace, watch_timeout_seconds=30
            )
            self._informers.append(informer.start())
        for queue_name in self._queues:
            self._spawn(f"velero-{queue_name}", functools.partial(self._work, queue_name))
        self._spawn("velero-ticker", self._tick_loop)
        return self

    def stop(self) -> None:
        """Stop every thread (in-flight work is abandoned, as when the Velero pod dies)."""
        self.ctx.stop.set()
        for informer in self._informers:
            informer.stop()
        for work_queue in self._queues.values():
            work_queue.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def wait_synced(self, timeout: float = 5.0) -> bool:
        """Whether every informer finished its first list."""
        return all(i.synced.wait(timeout) for i in self._informers)

    def run_periodic_now(self) -> None:
        """Run every periodic loop once, now (tests and the demo use it to avoid waiting a period)."""
        self._last_run.clear()
        self._last_synced.clear()
        self._last_validated.clear()
        self._periodic()

    def _enqueuer(self, queue_name: str, reconcile: Reconcile) -> Callable[[str, Mapping[str, Any]], None]:
        def handle(event_type: str, obj: Mapping[str, Any]) -> None:
            if event_type != "DELETED":
                self._queues[queue_name].put((reconcile, str(obj["metadata"]["name"])))

        return handle

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self, queue_name: str) -> None:
        work_queue = self._queues[queue_name]
        while not self.ctx.stop.is_set():
            item = work_queue.get()
            if item is None:
                return
            while self.ctx.faults.paused and not self.ctx.stop.wait(0.05):
                pass
            reconcile, name = item
            try:
                reconcile(self.ctx, name)
            except (KubeError, StorageError) as exc:
                log.debug("velero_reconcile_failed", queue=queue_name, name=name, error=str(exc))
            except Exception:
                log.exception("velero_reconcile_crashed", queue=queue_name, name=name)

    def _tick_loop(self) -> None:
        while not self.ctx.stop.wait(0.05):
            if self.ctx.faults.paused:
                continue
            try:
                self._periodic()
            except (KubeError, StorageError) as exc:
                log.debug("velero_periodic_failed", error=str(exc))
            except Exception:
                log.exception("velero_periodic_crashed")

    def _periodic(self) -> None:
        timings = self.ctx.timings
        # Per-BSL frequencies are honoured at a granularity of at most a second (one list of BSLs per pass).
        if self._due("validation", min(timings.validation_period_seconds, 1.0)):
            locations.validate_locations(
                self.ctx, default_period_seconds=timings.validation_period_seconds, last_validated=self._last_validated
            )
        if self._due("schedules", timings.schedule_period_seconds):
            schedules.reconcile_schedules(self.ctx)
        sync.sync_locations(self.ctx, default_period_seconds=timings.sync_period_seconds, last_synced=self._last_synced)
        if self._due("gc", timings.gc_period_seconds):
            deletion.collect_garbage(self.ctx)
        if self._due("expiry", 1.0):
            requests.expire_requests(self.ctx)

    def _due(self, loop: str, period: float) -> bool:
        now = self.ctx.clock.monotonic()
        last = self._last_run.get(loop)
        if last is not None and now - last < period:
            return False
        self._last_run[loop] = now
        return True

    def _fail_interrupted(self) -> None:
        """Velero marks backups and restores left InProgress by a dead server as Failed at start-up."""
        now = rfc3339(self.ctx.clock.now())
        for resource, in_progress in (
            (VELERO_BACKUPS, BackupPhase.IN_PROGRESS),
            (VELERO_RESTORES, RestorePhase.IN_PROGRESS),
        ):
            try:
                objects = self.ctx.objects(resource)
            except KubeError:
                continue
            for obj in objects:
                if (obj.get("status") or {}).get("phase") == in_progress:
                    kind = resource.kind.lower()
                    reason = f'found a {kind} with status "InProgress" during the server starting, mark it as "Failed"'
                    self.ctx.patch(
                        resource,
                        obj["metadata"]["name"],
                        {"status": {"phase": "Failed", "failureReason": reason, "completionTimestamp": now}},
                    )
