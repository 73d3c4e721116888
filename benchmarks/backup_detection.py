"""Detection latency: from a Backup's phase change in the API to drd's store row and metrics.

Run: ``.venv/bin/python benchmarks/backup_detection.py [--backups 50] [--gap 0.05] [--over-http]
[--store URL]``.

One Kubernetes API emulator (``KubeEmulator(velero=True)``) in this process and the daemon's
:class:`drd.daemon.backup_observer.BackupObserver` watching it over HTTP, as the leader does:
an informer (list, then watch) on drd-labelled Backups, recording every event in the store
(a SQLite file by default, ``--store postgresql://…`` for the HA set-up) and counting
terminal ones in :class:`drd.metrics.Metrics`. ``--backups`` InProgress Backups, each of its
own policy, are created and observed first; then, one at a time and ``--gap`` seconds apart,
each is set to Completed (a merge patch of its ``status``, as Velero does: its CRDs have no
status subresource) through the emulator's in-process store, or with ``--over-http`` through
drd's KubeClient (the write's own round trip then counts in the latency).

For each change we time, from just before the write:

* **metrics**: until the observer hands the terminal outcome to the metrics (the daemon's
  ``record_metrics`` callback, called after the store write committed), i.e. until
  ``drd_backup_runs_total`` counts it;
* **store (reader)**: until ``store.last_good_backup(policy)`` in this thread returns the
  backup, polled every 0.5 ms — what ``drd status`` and the RPO collector see.

Target: p50 ≤ 100 ms (watches, not polling). Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from drd import logs
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS
from drd.clock import SystemClock
from drd.daemon.backup_observer import BackupObserver
from drd.metrics import Metrics
from drd.operations import labels
from drd.operations.notify import Notifier
from drd.outcomes import Outcome
from drd.policy.models.cluster import Cluster
from drd.sandbox.kube.emulator import KubeEmulator
from drd.store import Store, open_store

TARGET_P50_MS = 100.0
CLUSTER = "bench"
BACKUPS = "backups.velero.io"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def a_backup(policy: str, now: datetime) -> dict[str, Any]:
    """A drd-labelled Backup that Velero is working on."""
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {
            "name": f"drd-{policy}-{now:%Y%m%d%H%M%S}",
            "namespace": "velero",
            "labels": {labels.MANAGED_BY: labels.MANAGER, labels.POLICY: policy, labels.TRIGGER: "schedule"},
        },
        "spec": {"includedNamespaces": [policy], "storageLocation": "default", "ttl": "720h0m0s"},
        "status": {"phase": "InProgress", "startTimestamp": rfc3339(now)},
    }


def completed(now: datetime) -> dict[str, Any]:
    return {
        "status": {
            "phase": "Completed",
            "completionTimestamp": rfc3339(now),
            "expiration": rfc3339(now + timedelta(days=30)),
            "progress": {"totalItems": 40, "itemsBackedUp": 40},
            "errors": 0,
            "warnings": 0,
        }
    }


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95 and max in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


def wait_for(check: Callable[[], float | None], *, began: float, what: str) -> float:
    """Poll ``check`` every 0.5 ms until it returns a time; the latency since ``began``."""
    while (seen := check()) is None:
        if time.perf_counter() - began > 10:
            raise SystemExit(f"{what} after 10 s")
        time.sleep(0.0005)
    return seen - began


def measure(
    emulator: KubeEmulator, store: Store, *, policies: list[str], args: argparse.Namespace
) -> dict[str, list[float]]:
    """Create the InProgress backups, let the observer see them, then complete them one by one and time each."""
    clock = SystemClock()
    metrics = Metrics(CollectorRegistry(), clock=clock)
    counted: dict[str, float] = {}
    lock = threading.Lock()

    def record_metrics(outcome: Outcome) -> None:
        metrics.record(outcome)
        with lock:
            counted[str(outcome.details["backup"])] = time.perf_counter()

    def counted_at(name: str) -> float | None:
        with lock:
            return counted.get(name)

    def stored_at(policy: str, name: str) -> float | None:
        record = store.last_good_backup(policy)
        return time.perf_counter() if record is not None and record.name == name else None

    observer = BackupObserver(
        store=store, record_metrics=record_metrics, notifier=Notifier(webhook_url=None, clock=clock), clock=clock
    )
    kube = KubeClient.from_api_url(emulator.url, cluster=CLUSTER)
    writer = KubeClient.from_api_url(emulator.url, cluster=CLUSTER, user_agent="velero")
    latencies: dict[str, list[float]] = {"metrics": [], "store": []}
    try:
        now = datetime.now(UTC)
        names = {
            policy: emulator.store.create(BACKUPS, a_backup(policy, now), namespace="velero")["metadata"]["name"]
            for policy in policies
        }
        observer.watch({CLUSTER: (a_cluster(), kube)})
        observer.synced(timeout=10)
        wait_for(
            lambda: time.perf_counter() if len(store.backups(cluster=CLUSTER, limit=10_000)) == len(policies) else None,
            began=time.perf_counter(),
            what="the InProgress backups not all in the store",
        )
        for policy, name in names.items():
            change = completed(datetime.now(UTC))
            began = time.perf_counter()
            if args.over_http:
                writer.merge_patch(VELERO_BACKUPS, name, change, namespace="velero")
            else:
                emulator.store.patch(BACKUPS, name, change, namespace="velero")
            latencies["store"].append(
                wait_for(lambda p=policy, n=name: stored_at(p, n), began=began, what=f"{name} not in the store")
            )
            latencies["metrics"].append(wait_for(lambda n=name: counted_at(n), began=began, what=f"{name} not counted"))
            time.sleep(args.gap)
    finally:
        observer.stop()
        kube.close()
        writer.close()
    return latencies


def a_cluster() -> Cluster:
    return Cluster.model_validate(
        {
            "apiVersion": "drd.dev/v1",
            "kind": "Cluster",
            "metadata": {"name": CLUSTER},
            "spec": {"region": "us-east-1", "role": "primary", "connection": {"inCluster": True}},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backups", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between two phase changes")
    parser.add_argument("--over-http", action="store_true", help="write the change through the API over HTTP")
    parser.add_argument("--store", default="", help="store URL (default: a SQLite file in a temporary directory)")
    args = parser.parse_args()
    logs.configure(level="WARNING")
    policies = [f"app-{i:03d}" for i in range(args.backups)]
    with (
        tempfile.TemporaryDirectory(prefix="drd-detect-") as scratch,
        KubeEmulator(velero=True, namespaces=("default", "velero")) as emulator,
        open_store(args.store or str(Path(scratch) / "drd.sqlite")) as store,
    ):
        latencies = measure(emulator, store, policies=policies, args=args)

    how = "over HTTP (KubeClient merge patch)" if args.over_http else "through the emulator's in-process store"
    print(f"{len(policies)} Backups set InProgress → Completed {how}, {args.gap * 1000:.0f} ms apart; {store.backend}")
    print(f"{'until':<42} {'p50':>8} {'p95':>8} {'max':>8}   {'target':<13} ratio")
    for label, key in (("metrics counted (record_metrics called)", "metrics"), ("store row seen by a reader", "store")):
        p50, p95, worst = percentiles(latencies[key])
        ratio = p50 / TARGET_P50_MS
        print(f"{label:<42} {p50:6.1f}ms {p95:6.1f}ms {worst:6.1f}ms   p50 ≤ {TARGET_P50_MS:g} ms {ratio:5.2f}")


if __name__ == "__main__":
    main()
