"""One daemon, 100 clusters × 5 backup policies: memory, full Schedule reconcile, ``/metrics`` scrape.

Run: ``.venv/bin/python benchmarks/daemon_scale.py [--clusters 100] [--policies 5] [--servers 2]
[--backups-per-policy 10] [--scrapes 50] [--no-retention] [--profile] [--leader] [--reference-encoder]``.

The clusters are Kubernetes API emulators (``KubeEmulator(velero=True)``: Velero's CRDs, a
``velero`` namespace and a ``default`` BackupStorageLocation whose status says Available; no
Velero simulator, which would be too heavy for 100). They run in ``--servers`` child processes
(this script re-invoked with ``--serve``), so that this process's resident memory and CPU time
are the daemon's own and the daemon does not share its GIL with 100 API servers. The inventory
(one kubeconfig with a context per cluster) and ``--policies`` BackupPolicies per cluster are
generated into a temporary directory; the store (a SQLite file) is seeded with
``--backups-per-policy`` Completed backups per policy, as after a few days of service.

A :class:`drd.daemon.app.Daemon` runs in this process (leader election off, unless
``--leader``: then the Lease is in cluster-000 with the default timings, and the time its
``on_started_leading`` callback takes is printed, to compare with the 10 s renew deadline),
listening on 127.0.0.1:0. We measure:

* **memory**: VmRSS (and the peak, VmHWM) from ``/proc/self/status`` before the daemon, after
  :meth:`Daemon.start`, after the first full reconcile and after the scrapes (target ≤ 250 MB);
* **full reconcile**, timed through the job recorder (the JobContext's ``record`` is wrapped)
  until the last of the 500 ``schedule:*`` jobs recorded its outcome (target ≤ 5 s each):

  - the *start-up burst*: from the call to ``start()`` (config load, store, connecting to every
    cluster) until every Schedule exists (checked by listing them), with the ``retention:*``
    jobs, the cluster health check and the informers' first lists competing as in service;
  - a *re-create pass*: every Schedule deleted (not timed), then all 500 ``schedule:*`` jobs
    run now (``JobScheduler.run_now``) with warm connections: the reconcile itself;
  - an *unchanged pass*: the same with every Schedule already as the policy says.

  Wall time, and this process's CPU time (every thread), the fairer figure on a busy machine;
* **/metrics**: p50/p95 of ``--scrapes`` scrapes over HTTP, warm (the RPO samples cached:
  scrapes less than ``drd.daemon.rpo.CACHE_SECONDS`` apart) and cold (the cache dropped before
  each scrape: what Prometheus gets when it scrapes every 15 s or more) (target ≤ 100 ms), and
  the biggest metric families of the exposition. Twice: as a plain client (no ``Accept``: text
  0.0.4, not compressed) and as Prometheus 3 asks (its ``Accept`` header, which negotiates
  OpenMetrics, and ``Accept-Encoding: gzip``). ``--reference-encoder`` serves ``/metrics`` with
  prometheus-client's own encoders (``choose_encoder``) instead of drd's, to compare on the same
  machine in the same conditions.

Figures only; nothing here asserts. ``--profile`` adds cProfile listings of ``start()`` (its
own thread), of 50 serial reconciles and of cold and warm scrapes (the figures of that run are
inflated by the profiler).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

TARGET_RSS_MB = 250.0
TARGET_RECONCILE_S = 5.0
TARGET_SCRAPE_MS = 100.0


# ---------------------------------------------------------------------------------------------- the clusters


def serve(first: int, count: int) -> None:
    """Child process: ``count`` emulated clusters with Velero's CRDs and an Available BSL, until stdin closes."""
    emulators = start_emulators(first, count)
    print(json.dumps({name: emulator.url for name, emulator in emulators.items()}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or dies)
    for emulator in emulators.values():
        emulator.stop()


def start_emulators(first: int, count: int) -> dict[str, Any]:
    """Clusters ``first`` … ``first + count - 1``: emulators with Velero's CRDs and an Available BSL, by name."""
    from drd import logs
    from drd.sandbox.kube.emulator import KubeEmulator

    logs.configure(level="WARNING")
    emulators: dict[str, Any] = {}
    for index in range(first, first + count):
        emulator = KubeEmulator(velero=True, namespaces=("default", "kube-system", "velero", "drd")).start()
        emulator.store.create(
            "backupstoragelocations.velero.io",
            {
                "apiVersion": "velero.io/v1",
                "kind": "BackupStorageLocation",
                "metadata": {"name": "default", "namespace": "velero"},
                "spec": {"provider": "aws", "objectStorage": {"bucket": f"backups-{index}"}, "default": True},
                "status": {"phase": "Available"},
            },
            namespace="velero",
        )
        emulators[cluster_name(index)] = emulator
    return emulators


def cluster_name(index: int) -> str:
    return f"cluster-{index:03d}"


@contextlib.contextmanager
def clusters(count: int, servers: int) -> Iterator[dict[str, str]]:
    """Start the emulators in ``servers`` child processes; yields cluster name → API URL."""
    share = -(-count // servers)
    children = []
    try:
        for first in range(0, count, share):
            children.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--serve", str(first), str(min(share, count - first))],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        urls: dict[str, str] = {}
        for child in children:
            assert child.stdout is not None
            urls |= json.loads(child.stdout.readline())
        yield urls
    finally:
        for child in children:
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()


# ---------------------------------------------------------------------------------------------- the configuration


def write_config(directory: Path, urls: dict[str, str], *, policies: int, retention: bool) -> tuple[Path, Path]:
    """A kubeconfig with a context per cluster, clusters.yaml and one policies file per cluster."""
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": name, "cluster": {"server": url}} for name, url in urls.items()],
                "users": [{"name": "admin", "user": {"token": "benchmark"}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": "admin"}} for name in urls],
                "current-context": next(iter(urls)),
            }
        )
    )
    config = directory / "config"
    config.mkdir()
    inventory = [
        {
            "apiVersion": "drd.dev/v1",
            "kind": "Cluster",
            "metadata": {"name": name},
            "spec": {
                "region": "us-east-1" if index % 2 == 0 else "us-west-2",
                "role": "primary",
                "connection": {"kubeconfig": str(kubeconfig), "context": name},
            },
        }
        for index, name in enumerate(urls)
    ]
    (config / "clusters.yaml").write_text(yaml.safe_dump_all(inventory))
    for name in urls:
        documents = []
        for number in range(policies):
            spec: dict[str, Any] = {
                "application": f"{name}-app-{number}",
                "cluster": name,
                "scope": {"includedNamespaces": [f"app-{number}"]},
                "schedule": f"{number * 7 % 60} * * * *",
                "ttl": "7d",
                "objectives": {"rpo": "2h"},
            }
            if retention:
                spec["retention"] = {"keepLast": 24, "daily": 7}
            documents.append(
                {
                    "apiVersion": "drd.dev/v1",
                    "kind": "BackupPolicy",
                    "metadata": {"name": f"{name}-app-{number}"},
                    "spec": spec,
                }
            )
        (config / f"{name}.yaml").write_text(yaml.safe_dump_all(documents))
    return kubeconfig, config


def seed_store(path: Path, urls: dict[str, str], *, policies: int, backups: int) -> float:
    """``backups`` Completed backups per policy, hourly up to an hour ago; returns the seconds it took."""
    from drd.store import open_store

    started = time.perf_counter()
    now = datetime.now(UTC)
    with open_store(str(path)) as store:
        for name in urls:
            for number in range(policies):
                policy = f"{name}-app-{number}"
                for age in range(backups):
                    completed = now - timedelta(hours=age + 1)
                    store.record_backup(
                        cluster=name,
                        name=f"drd-{policy}-{completed:%Y%m%d%H%M%S}",
                        policy=policy,
                        phase="Completed",
                        uid=f"{policy}-{age}",
                        schedule=f"drd-{policy}",
                        started_at=completed - timedelta(minutes=2),
                        completed_at=completed,
                        expiration=completed + timedelta(days=7),
                        items_total=40,
                        items_backed_up=40,
                        errors=0,
                        warnings=0,
                        storage_location="default",
                    )
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- measuring


def memory() -> dict[str, float]:
    """VmRSS and VmHWM of this process, in MB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


@dataclass
class Recorded:
    """Outcomes of the schedule jobs as the daemon records them, with their arrival time."""

    lock: threading.Lock
    schedule: list[tuple[float, str, str]]
    other: list[tuple[float, str]]

    def wait(self, count: int, *, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.schedule) >= count:
                    return
            time.sleep(0.005)
        raise SystemExit(f"only {len(self.schedule)} of {count} schedule jobs finished in {timeout}s")


def instrument(daemon: Any) -> Recorded:
    """Note the time of every outcome the daemon's jobs record (wraps the JobContext's ``record``)."""
    recorded = Recorded(threading.Lock(), [], [])
    original: Callable[..., None] = daemon.scheduler.context.record

    def record(*args: Any) -> None:
        original(*args)
        outcome = next(arg for arg in args if hasattr(arg, "phase"))  # (outcome) or (spec, outcome, trigger)
        with recorded.lock:
            if outcome.kind == "schedule":
                recorded.schedule.append(
                    (time.perf_counter(), outcome.phase.value, str(outcome.details.get("action", "")))
                )
            else:
                recorded.other.append((time.perf_counter(), outcome.kind))

    daemon.scheduler.context.record = record
    return recorded


def watch_leadership(daemon: Any, t0: list[float]) -> list[str]:
    """Note when the daemon starts and stops leading, and how long its on_started_leading callback takes."""
    notes: list[str] = []
    started, stopped = daemon._on_started_leading, daemon._on_stopped_leading

    def on_started() -> None:
        began = time.perf_counter()
        started()
        notes.append(f"leading at {began - t0[0]:.2f} s (on_started_leading took {time.perf_counter() - began:.2f} s)")

    def on_stopped() -> None:
        notes.append(f"stopped leading at {time.perf_counter() - t0[0]:.2f} s")
        stopped()

    daemon._on_started_leading, daemon._on_stopped_leading = on_started, on_stopped
    return notes


@dataclass
class Pass:
    wall: float
    cpu: float
    actions: list[tuple[str, str]]


def run_pass(daemon: Any, recorded: Recorded, total: int, *, delete_first: bool = False) -> Pass:
    """Run every ``schedule:*`` job now (``JobScheduler.run_now``) and time it until all recorded an outcome.

    With ``delete_first``, every Schedule is deleted before (not timed), so that the pass re-creates them all
    with warm connections: the cost of the reconcile itself, without the start-up's.
    """
    from drd.clients.kube_resources import VELERO_SCHEDULES
    from drd.operations import backup_manifests as render

    config = daemon.config.current
    if delete_first:
        for policy in config.backup_policies.values():
            kube = daemon.connections.get(config.source_cluster(policy))
            kube.delete(VELERO_SCHEDULES, render.schedule_name(policy.name), namespace="velero")
    with recorded.lock:
        recorded.schedule.clear()
    cpu, began = cpu_seconds(), time.perf_counter()
    for job_id in daemon.scheduler.job_ids:
        if job_id.startswith("schedule:"):
            daemon.scheduler.run_now(job_id)
    recorded.wait(total)
    with recorded.lock:
        wall = max(t for t, _, _ in recorded.schedule) - began
        actions = sorted({(phase, action) for _, phase, action in recorded.schedule})
    return Pass(wall=wall, cpu=cpu_seconds() - cpu, actions=actions)


def biggest_families(body: bytes, count: int = 5) -> str:
    """The metric families with the most samples in a scrape."""
    from prometheus_client.parser import text_string_to_metric_families

    sizes = sorted(((len(f.samples), f.name) for f in text_string_to_metric_families(body.decode())), reverse=True)
    return ", ".join(f"{name} {samples}" for samples, name in sizes[:count])


def count_schedules(daemon: Any) -> int:
    from drd.clients.kube_resources import VELERO_SCHEDULES

    config = daemon.config.current
    return sum(
        len(daemon.connections.get(cluster).list_objects(VELERO_SCHEDULES, namespace="velero").items)
        for cluster in config.clusters.values()
    )


PROMETHEUS_3 = {
    "Accept": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
}
"""The headers of a Prometheus 3 scrape (default ``scrape_protocols``)."""


def scrape(url: str, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
        response.read()
    return time.perf_counter() - started


def profile(title: str, call: Callable[[], object], *, lines: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"\n--- cProfile: {title} (cumulative) ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


# ---------------------------------------------------------------------------------------------- the run


Row = tuple[str, str, float, str]
"""(measure, unit, figure, target key)."""


def start_up(daemon: Any, recorded: Recorded, total: int, *, profiled: bool) -> list[Row]:
    """Start the daemon and time its start-up burst until every Schedule was reconciled."""
    origin = [time.perf_counter()]
    leadership = watch_leadership(daemon, origin)
    cpu, began = cpu_seconds(), time.perf_counter()
    origin[0] = began
    if profiled:
        profile("Daemon.start() (its own thread only; the jobs run meanwhile)", daemon.start, lines=30)
    else:
        daemon.start()
    started = time.perf_counter() - began
    after_start = memory()
    recorded.wait(total)
    with recorded.lock:
        burst = max(t for t, _, _ in recorded.schedule) - began
        actions = sorted({(phase, action) for _, phase, action in recorded.schedule})
    burst_cpu = cpu_seconds() - cpu
    schedules = count_schedules(daemon)
    time.sleep(1.0)  # let the retention jobs and the informers' first lists finish
    with recorded.lock:
        last = max(t for t, _ in recorded.other) - began if recorded.other else float("nan")
        retention = sum(1 for _, kind in recorded.other if kind == "retention")
    print(
        f"start-up: {schedules} Schedules exist, outcomes {actions}; {retention} retention jobs, the last"
        f" job at {last:.2f} s; {threading.active_count()} threads"
    )
    if daemon.settings.leader.enabled:
        print("leadership: " + "; ".join(leadership))
    return [
        ("RSS after start()", "MB", after_start["VmRSS"], "rss"),
        ("RSS after the first full reconcile", "MB", memory()["VmRSS"], "rss"),
        ("start()", "s", started, ""),
        (f"start-up burst: {total} Schedules created, wall", "s", burst, "reconcile"),
        ("start-up burst, daemon CPU (all threads)", "s", burst_cpu, ""),
    ]


def reconcile_passes(daemon: Any, recorded: Recorded, total: int) -> list[Row]:
    recreate = run_pass(daemon, recorded, total, delete_first=True)
    unchanged = run_pass(daemon, recorded, total)
    print(f"re-create pass outcomes {recreate.actions}; unchanged pass outcomes {unchanged.actions}")
    return [
        (f"re-create pass: {total} Schedules, wall", "s", recreate.wall, "reconcile"),
        ("re-create pass, daemon CPU (all threads)", "s", recreate.cpu, ""),
        (f"unchanged pass: {total} Schedules, wall", "s", unchanged.wall, "reconcile"),
        ("unchanged pass, daemon CPU (all threads)", "s", unchanged.cpu, ""),
    ]


def scrapes(daemon: Any, count: int) -> list[Row]:
    url = f"{daemon.http.url}/metrics"
    rows: list[Row] = []
    for client, headers in (("", None), (", Prometheus 3 (OpenMetrics+gzip)", PROMETHEUS_3)):
        scrape(url, headers)
        warm = [scrape(url, headers) for _ in range(count)]
        cold = []
        for _ in range(count):
            daemon.rpo.invalidate()
            cold.append(scrape(url, headers))
        (warm50, warm95), (cold50, cold95) = percentiles(warm), percentiles(cold)
        rows += [
            (f"/metrics warm p50{client}", "ms", warm50, "scrape"),
            (f"/metrics warm p95{client}", "ms", warm95, "scrape"),
            (f"/metrics cold p50 (RPO from the store){client}", "ms", cold50, "scrape"),
            (f"/metrics cold p95 (RPO from the store){client}", "ms", cold95, "scrape"),
        ]
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    with urllib.request.urlopen(urllib.request.Request(url, headers=PROMETHEUS_3), timeout=30) as response:
        compressed = len(response.read())
    lines = body.count(b"\n")
    print(
        f"/metrics body: {lines} lines, {len(body) / 1024:.0f} KiB ({compressed / 1024:.0f} KiB gzipped OpenMetrics);"
        f" biggest families: {biggest_families(body)}"
    )
    rows.append(("RSS after the scrapes (peak VmHWM)", "MB", memory()["VmHWM"], "rss"))
    return rows


def profiles(daemon: Any) -> None:
    """cProfile listings of a serial reconcile and of scrapes, in this thread."""
    from drd.daemon import http

    encode, _ = http.negotiate("")

    current = daemon.config.current
    sample = sorted(current.backup_policies.values(), key=lambda p: p.name)[:50]
    profile(
        "50 serial schedule reconciles (unchanged)",
        lambda: [daemon._reconcile_schedule(p, current.source_cluster(p)) for p in sample],
    )

    def cold() -> None:
        for _ in range(5):
            daemon.rpo.invalidate()
            encode(daemon.registry)

    profile("5 cold scrapes (the /metrics encoder after RpoWatch.invalidate)", cold)
    profile("5 warm scrapes (the /metrics encoder)", lambda: [encode(daemon.registry) for _ in range(5)])


def report(rows: list[Row]) -> None:
    targets = {"rss": TARGET_RSS_MB, "reconcile": TARGET_RECONCILE_S, "scrape": TARGET_SCRAPE_MS}
    width = max(46, *(len(label) for label, _, _, _ in rows))
    print(f"\n{'measure':<{width}} {'figure':>10}  {'target':>9}  {'ratio':>6}")
    for label, unit, value, target in rows:
        goal = targets.get(target)
        ratio = f"{value / goal:6.2f}" if goal else ""
        goal_text = f"≤ {goal:g} {unit}" if goal else ""
        print(f"{label:<{width}} {value:>7.2f} {unit:<2}  {goal_text:>9}  {ratio:>6}")


def run(args: argparse.Namespace) -> None:
    from drd import logs
    from drd.daemon.app import Daemon
    from drd.settings import Settings

    logs.configure(level="WARNING")
    if args.reference_encoder:
        from prometheus_client.exposition import choose_encoder

        from drd.daemon import http

        http.negotiate = choose_encoder  # type: ignore[assignment]  # prometheus-client's encoders, for comparison
    total = args.clusters * args.policies
    with tempfile.TemporaryDirectory(prefix="drd-scale-") as scratch, clusters(args.clusters, args.servers) as urls:
        directory = Path(scratch)
        kubeconfig, config = write_config(directory, urls, policies=args.policies, retention=not args.no_retention)
        state = directory / "drd.sqlite"
        seeded = seed_store(state, urls, policies=args.policies, backups=args.backups_per_policy)
        print(
            f"{args.clusters} emulated clusters in {args.servers} processes, {total} backup policies"
            f"{'' if args.no_retention else ' with retention'}, {total * args.backups_per_policy} backups"
            f" seeded in the store ({seeded:.1f} s), {os.cpu_count()} CPUs"
        )
        settings = Settings.from_env(
            {
                "DRD_CONFIG": str(config),
                "DRD_STATE": str(state),
                "KUBECONFIG": str(kubeconfig),
                "DRD_LISTEN": "127.0.0.1:0",
                "DRD_LEADER_ENABLED": "true" if args.leader else "false",
                "DRD_LEADER_CLUSTER": cluster_name(0),
                "DRD_SHUTDOWN_GRACE_SECONDS": "10",
            }
        )
        rows: list[Row] = [("RSS before the daemon (imports, store seeded)", "MB", memory()["VmRSS"], "")]
        daemon = Daemon(settings, identity="benchmark")
        recorded = instrument(daemon)
        try:
            rows += start_up(daemon, recorded, total, profiled=args.profile)
            rows += reconcile_passes(daemon, recorded, total)
            rows += scrapes(daemon, args.scrapes)
            if args.profile:
                profiles(daemon)
        finally:
            stopping = time.perf_counter()
            daemon.shutdown()
            rows.append(("shutdown()", "s", time.perf_counter() - stopping, ""))
    report(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--policies", type=int, default=5, help="backup policies per cluster")
    parser.add_argument("--servers", type=int, default=2, help="child processes serving the emulated clusters")
    parser.add_argument("--backups-per-policy", type=int, default=10, help="Completed backups seeded in the store")
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--no-retention", action="store_true", help="policies without retention rules")
    parser.add_argument("--profile", action="store_true", help="cProfile start(), a serial reconcile, scrapes")
    parser.add_argument("--leader", action="store_true", help="leader election on (Lease in cluster-000)")
    parser.add_argument(
        "--reference-encoder", action="store_true", help="serve /metrics with prometheus-client's encoders"
    )
    parser.add_argument("--serve", nargs=2, type=int, metavar=("FIRST", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
    else:
        run(args)


if __name__ == "__main__":
    main()
