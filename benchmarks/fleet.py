"""A fleet in one daemon: 200 clusters × 5 applications — memory, CPU per simulated hour, reconcile, scrape, jitter.

Run: ``.venv/bin/python benchmarks/fleet.py [--clusters 200] [--policies 5] [--servers 4] [--window 300]
[--accelerate 1] [--probes 10] [--scrapes 50] [--scrape-every 15] [--backups-per-policy 10] [--leader]``.

The fleet is built as :mod:`daemon_scale` (whose helpers this script reuses) builds it: ``--clusters``
Kubernetes API emulators (``KubeEmulator(velero=True)`` with an Available ``default`` BackupStorageLocation;
no Velero simulator) spread over ``--servers`` child processes, so that this process's memory and CPU are the
daemon's own; one kubeconfig with a context per cluster; ``--policies`` BackupPolicies (with retention rules)
per cluster; ``--backups-per-policy`` Completed backups per policy seeded in a SQLite store. One
:class:`drd.daemon.app.Daemon` runs in this process, with its run loop (configuration polling) in a thread.

In order:

1. **Start-up burst** and memory after ``start()`` (as ``daemon_scale.py``: until every Schedule exists).
2. **Full reconcile**: every ``schedule:*`` job run now, re-creating every Schedule, then all unchanged.
3. **/metrics** p50/p95 warm (RPO cached) and cold (RPO read from the store), plain and as Prometheus 3.
4. **Steady state** for ``--window`` seconds of wall time, the daemon's jobs on their own triggers: what a
   simulated hour costs. The window is a whole number of every job's period (300 s: one retention pass,
   five reconciles of every Schedule, ten RPO checks, twenty health checks), so the CPU time measured in
   it, × 3600 / (window × ``--accelerate``), is the CPU per simulated hour with nothing guessed but
   linearity. Meanwhile, as in service:

   * each child plays Velero: every policy gets one Backup per simulated hour (InProgress, Completed
     5 s later), spread evenly, so the informers, the store and the metrics see the fleet's hourly
     backups; the time from each Completed write (in the child) to the daemon counting it is the
     **backup detection under load** (target p50 ≤ 100 ms);
   * a child process scrapes ``/metrics`` every ``--scrape-every`` seconds as Prometheus 3 would
     (its client's CPU is not the daemon's); its latencies are the **scrape under load**;
   * ``--probes`` scheduled jobs (cron ``* * * * *``, no-ops recorded in the store like any scheduled
     job's run) stand for cron work (drills, rotations) that the emulated fleet cannot run;
   * **schedule jitter**: every APScheduler run records how late its body started against its due time
     (``run_times`` handed to the executor), per job family, p50/p95/max, plus the due runs APScheduler
     dropped because the job's previous run was still busy or its slot was past the misfire grace.

``--accelerate K`` divides the daemon's job intervals (``drd.daemon.app``'s constants) and the backup and
scrape periods by K: a window then stands for K times as much service time. It packs K times the work into
the same wall time (more contention, so more jitter); the cron probes stay at one a minute.

Targets compared with are those the docs write for 100 clusters × 5 policies (500 policies): RSS ≤ 250 MB,
reconcile ≤ 5 s, ``/metrics`` ≤ 100 ms (daemon.md, metrics.md), backup detection p50 ≤ 100 ms; no target is
written for 1000 policies, for CPU per hour or for jitter. Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import daemon_scale as scale

TARGETS: dict[str, tuple[float, str]] = {
    "rss": (scale.TARGET_RSS_MB, "≤ 250 MB @500"),
    "reconcile": (scale.TARGET_RECONCILE_S, "≤ 5 s @500"),
    "scrape": (scale.TARGET_SCRAPE_MS, "≤ 100 ms @500"),
    "detect": (100.0, "p50 ≤ 100 ms"),
}
"""Target key → (value, how it reads). ``@500``: written for 500 policies; none is written for 1000."""

BACKUP_SECONDS = 5.0
"""How long a simulated backup stays InProgress (wall time)."""


# ---------------------------------------------------------------------------------------------- the fleet


def serve(first: int, count: int, policies: int, period: float, offset: float) -> None:
    """Child process: ``count`` emulated clusters; on ``start`` on stdin, Velero's hourly backups; until stdin closes.

    Prints the API URLs (one JSON line) at once, and when stdin closes the wall-clock time (``time.time()``)
    of each Completed write, by backup name (one JSON line).
    """
    emulators = scale.start_emulators(first, count)
    print(json.dumps({name: emulator.url for name, emulator in emulators.items()}), flush=True)
    stop = threading.Event()
    completed: dict[str, float] = {}
    kwargs = {"policies": policies, "period": period, "offset": offset, "stop": stop, "done": completed}
    maker = threading.Thread(target=play_velero, args=(emulators,), kwargs=kwargs, name="velero", daemon=True)
    for line in sys.stdin:  # until the parent closes our stdin (or dies)
        if line.strip() == "start" and not maker.is_alive():
            maker.start()
    stop.set()
    if maker.is_alive():
        maker.join()
    print(json.dumps(completed), flush=True)
    for emulator in emulators.values():
        emulator.stop()


def play_velero(
    emulators: dict[str, Any],
    *,
    policies: int,
    period: float,
    offset: float,
    stop: threading.Event,
    done: dict[str, float],
) -> None:
    """One Backup every ``period`` seconds, round robin over this child's policies, Completed BACKUP_SECONDS later."""
    from drd.operations import labels

    plan = [(cluster, number) for number in range(policies) for cluster in emulators]
    pending: deque[tuple[float, str, str]] = deque()
    next_at, made = time.monotonic() + offset, 0
    while not stop.is_set():
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, cluster, name = pending.popleft()
            stamp = datetime.now(UTC)
            emulators[cluster].store.patch(
                "backups.velero.io",
                name,
                {
                    "status": {
                        "phase": "Completed",
                        "completionTimestamp": f"{stamp:%Y-%m-%dT%H:%M:%SZ}",
                        "expiration": f"{stamp + timedelta(days=7):%Y-%m-%dT%H:%M:%SZ}",
                        "progress": {"totalItems": 40, "itemsBackedUp": 40},
                        "errors": 0,
                        "warnings": 0,
                    }
                },
                namespace="velero",
            )
            done[name] = time.time()
        if now >= next_at:
            cluster, number = plan[made % len(plan)]
            policy = f"{cluster}-app-{number}"
            stamp = datetime.now(UTC)
            name = f"drd-{policy}-{stamp:%Y%m%d%H%M%S}"
            emulators[cluster].store.create(
                "backups.velero.io",
                {
                    "apiVersion": "velero.io/v1",
                    "kind": "Backup",
                    "metadata": {
                        "name": name,
                        "namespace": "velero",
                        "labels": {
                            labels.MANAGED_BY: labels.MANAGER,
                            labels.POLICY: policy,
                            labels.TRIGGER: labels.SCHEDULE_TRIGGER,
                            "velero.io/schedule-name": f"drd-{policy}",
                        },
                    },
                    "spec": {"includedNamespaces": [f"app-{number}"], "storageLocation": "default", "ttl": "168h"},
                    "status": {"phase": "InProgress", "startTimestamp": f"{stamp:%Y-%m-%dT%H:%M:%SZ}"},
                },
                namespace="velero",
            )
            pending.append((now + BACKUP_SECONDS, cluster, name))
            made += 1
            next_at += period
        wake = min([next_at, *(due for due, _, _ in list(pending)[:1])])
        stop.wait(max(0.0, wake - time.monotonic()))


@dataclass
class Fleet:
    """The children serving the clusters; after the context exits, their Completed times."""

    urls: dict[str, str]
    children: list[subprocess.Popen[str]]
    completed: dict[str, float] = field(default_factory=dict)

    def start_backups(self) -> None:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write("start\n")
            child.stdin.flush()

    def cpu_seconds(self) -> float:
        """User + system CPU of the children so far (the emulated API servers and their Velero)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for child in self.children:
            fields = Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total


@contextlib.contextmanager
def fleet(count: int, servers: int, policies: int, hour: float) -> Iterator[Fleet]:
    """Start the emulators in ``servers`` children; every policy gets a backup every ``hour`` seconds once started."""
    share = -(-count // servers)
    starts = list(range(0, count, share))
    children: list[subprocess.Popen[str]] = []
    built = Fleet({}, children)
    try:
        for rank, first in enumerate(starts):
            mine = min(share, count - first)
            period = hour / (mine * policies)
            command = [sys.executable, __file__, "--serve", str(first), str(mine), str(policies)]
            command += [str(period), str(period * rank / len(starts))]
            children.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for child in children:
            assert child.stdout is not None
            built.urls |= json.loads(child.stdout.readline())
        yield built
    finally:
        for child in children:
            assert child.stdin is not None
            assert child.stdout is not None
            child.stdin.close()
            with contextlib.suppress(json.JSONDecodeError):
                built.completed |= json.loads(child.stdout.readline() or "{}")
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            child.stdout.close()


def scraper(url: str, every: float) -> None:
    """Child process: scrape ``url`` as Prometheus 3 every ``every`` seconds until stdin closes; print latencies."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    latencies: list[float] = []
    while not stop.wait(every):
        latencies.append(scale.scrape(url, scale.PROMETHEUS_3))
    print(json.dumps(latencies), flush=True)


# ---------------------------------------------------------------------------------------------- jitter


@dataclass
class Jitter:
    """How late each APScheduler run started against its due time, per job family, while ``on``."""

    on: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    late: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    dropped: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def note(self, job_id: str, due: datetime) -> None:
        if self.on:
            lateness = (datetime.now(UTC) - due).total_seconds()
            with self.lock:
                self.late[family(job_id)].append(lateness)

    def drop(self, event: Any) -> None:
        if self.on:
            with self.lock:
                self.dropped[family(event.job_id)] += 1


def family(job_id: str) -> str:
    """The job family a run is reported under: ``schedule:shop`` → ``schedule:*`` (interval 60 s), …"""
    head = job_id.partition(":")[0]
    families = {
        "schedule": "schedule:* (interval)",
        "retention": "retention:* (interval)",
        "probe": "probe:* (cron * * * * *)",
        "catch-up": "catch-up:* (one-off)",
        "retry": "retry:* (one-off)",
    }
    return families.get(head, "health, rpo, runbooks… (interval)")


def watch_jitter(daemon: Any) -> Jitter:
    """Wrap APScheduler's executor entry point to note each run's start against its due time."""
    from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
    from apscheduler.executors import pool

    jitter = Jitter()
    original: Callable[..., Any] = pool.run_job

    def run_job(job: Any, jobstore_alias: str, run_times: list[datetime], logger_name: str) -> Any:
        if run_times:
            jitter.note(job.id, run_times[-1])
        return original(job, jobstore_alias, run_times, logger_name)

    pool.run_job = run_job
    daemon.scheduler._scheduler.add_listener(jitter.drop, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    return jitter


def add_probes(daemon: Any, count: int) -> None:
    """``count`` scheduled no-op jobs on cron ``* * * * *``, added to the daemon's own jobs at every sync."""
    from drd.daemon.jobs import JobSpec
    from drd.outcomes import Outcome, Phase
    from drd.policy.schedule import Schedule

    every_minute = Schedule.parse("* * * * *")

    def probe(subject: str) -> Outcome:
        now = daemon.clock.now()
        return Outcome("probe", subject, Phase.COMPLETED, now, now, {"action": "unchanged"})

    specs = [
        JobSpec(
            id=f"probe:{number}",
            kind="probe",
            subject=f"probe-{number}",
            func=lambda subject=f"probe-{number}": probe(subject),
            inputs=(number,),
            schedule=every_minute,
            catch_up="skip",
            retries=0,
        )
        for number in range(count)
    ]
    jobs: Callable[[Any], list[Any]] = daemon._jobs
    daemon._jobs = lambda config: [*jobs(config), *specs]


def watch_detection(daemon: Any) -> dict[str, float]:
    """Wall-clock time at which the daemon counted each finished backup (wraps its observer callback)."""
    counted: dict[str, float] = {}
    original: Callable[[Any], None] = daemon._backup_finished

    def finished(outcome: Any) -> None:
        original(outcome)
        counted[str(outcome.details.get("backup"))] = time.time()

    daemon._backup_finished = finished
    return counted


# ---------------------------------------------------------------------------------------------- the run


def p50_p95_max(samples: list[float], scale_to: float = 1000.0) -> tuple[float, float, float]:
    """p50, p95 and max, multiplied by ``scale_to`` (seconds → ms by default)."""
    if not samples:
        return float("nan"), float("nan"), float("nan")
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) * scale_to, p95 * scale_to, ordered[-1] * scale_to


def accelerate(factor: float) -> None:
    """Divide the daemon's job intervals by ``factor`` (before the Daemon builds its jobs)."""
    from drd.daemon import app

    for name in (
        "SCHEDULE_RECONCILE_SECONDS",
        "RETENTION_SECONDS",
        "RPO_CHECK_SECONDS",
        "RECORD_SECONDS",
        "SWEEP_SECONDS",
        "RUNBOOK_POLL_SECONDS",
        "UPGRADE_ADVANCE_SECONDS",
        "HEALTH_CHECK_SECONDS",
    ):
        setattr(app, name, getattr(app, name) / factor)


def steady_state(daemon: Any, built: Fleet, jitter: Jitter, args: argparse.Namespace) -> list[scale.Row]:
    """Let the daemon run on its own triggers for ``--window`` s with backups arriving and a scraper; measure."""
    url = f"{daemon.http.url}/metrics"
    every = args.scrape_every / args.accelerate
    prober = subprocess.Popen(
        [sys.executable, __file__, "--scraper", url, str(every)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rss: list[float] = []
    with jitter.lock:
        jitter.late.clear()
        jitter.dropped.clear()
    jitter.on = True
    built.start_backups()
    rss_before, blocks_before = scale.memory()["VmRSS"], sys.getallocatedblocks()
    cpu, children_cpu, began = scale.cpu_seconds(), built.cpu_seconds(), time.perf_counter()
    while (left := args.window - (time.perf_counter() - began)) > 0:
        time.sleep(min(5.0, left))
        rss.append(scale.memory()["VmRSS"])
    wall = time.perf_counter() - began
    used, children_used = scale.cpu_seconds() - cpu, built.cpu_seconds() - children_cpu
    jitter.on = False
    blocks_after = sys.getallocatedblocks()
    print(
        f"RSS in the window, every 60 s: {', '.join(f'{mb:.0f}' for mb in [rss_before, *rss[11::12]])} MB;"
        f" Python's allocated blocks {blocks_before:,} → {blocks_after:,}; {threading.active_count()} threads"
    )
    assert prober.stdin is not None
    assert prober.stdout is not None
    prober.stdin.close()
    scraped: list[float] = json.loads(prober.stdout.readline() or "[]")
    prober.wait(timeout=30)
    prober.stdout.close()
    simulated_hours = wall * args.accelerate / 3600
    per_hour = used / simulated_hours
    s50, s95, smax = p50_p95_max(scraped)
    rows: list[scale.Row] = [
        (f"steady: CPU in the {wall:.0f} s window (daemon, all threads)", "s", used, ""),
        (f"steady: CPU per simulated hour (× {3600 / (wall * args.accelerate):.1f})", "s", per_hour, ""),
        ("steady: share of one CPU", "%", 100 * used / wall, ""),
        ("steady: emulated API servers + Velero, CPU per sim. hour", "s", children_used / simulated_hours, ""),
        ("steady: RSS at the start of the window", "MB", rss_before, "rss"),
        ("steady: RSS at the end of the window", "MB", rss[-1] if rss else float("nan"), "rss"),
        ("steady: RSS max sampled every 5 s", "MB", max(rss, default=float("nan")), "rss"),
        (f"steady: /metrics p50 every {every:g} s, Prom 3 ({len(scraped)})", "ms", s50, "scrape"),
        ("steady: /metrics p95", "ms", s95, "scrape"),
        ("steady: /metrics max", "ms", smax, "scrape"),
    ]
    return rows


def jitter_table(jitter: Jitter) -> list[str]:
    """One line per job family (p50/p95/max lateness of a run's start against its due time), then all runs."""
    with jitter.lock:
        families = sorted(jitter.late.items(), key=lambda item: -len(item[1]))
        dropped = dict(jitter.dropped)
    lines = [
        f"{'schedule jitter (run start - due time)':<42} {'runs':>6} {'dropped':>7} {'p50':>9} {'p95':>9} {'max':>9}"
    ]
    every = [seconds for _, late in families for seconds in late]
    for name, late, lost in [
        *((n, lt, dropped.get(n, 0)) for n, lt in families),
        ("every run", every, sum(dropped.values())),
    ]:
        p50, p95, most = p50_p95_max(late)
        lines.append(f"{name:<42} {len(late):>6} {lost:>7} {p50:>6.1f} ms {p95:>6.1f} ms {most:>6.1f} ms")
    return lines


def detection_rows(written: dict[str, float], counted: dict[str, float]) -> list[scale.Row]:
    latencies = [counted[name] - at for name, at in written.items() if name in counted]
    p50, p95, most = p50_p95_max(latencies)
    missing = len([name for name in written if name not in counted])
    return [
        (f"backup detection under load ({len(latencies)}, {missing} not seen): p50", "ms", p50, "detect"),
        ("backup detection under load: p95", "ms", p95, ""),
        ("backup detection under load: max", "ms", most, ""),
    ]


def report(rows: list[scale.Row]) -> None:
    width = max(50, *(len(label) for label, _, _, _ in rows))
    print(f"\n{'measure':<{width}} {'figure':>10}  {'target':>14}  {'ratio':>6}")
    for label, unit, value, key in rows:
        goal, text = TARGETS.get(key, (0.0, ""))
        ratio = f"{value / goal:6.2f}" if goal else ""
        print(f"{label:<{width}} {value:>9.2f} {unit:<2} {text:>14}  {ratio:>6}")
    print(
        "\n@500: the target the docs write for 100 clusters × 5 policies (daemon.md, metrics.md); none is written"
        " for 1000 policies, for CPU per hour or for schedule jitter."
    )


def run(args: argparse.Namespace) -> None:
    from drd import logs
    from drd.daemon.app import Daemon
    from drd.settings import Settings

    logs.configure(level="WARNING")
    if args.accelerate != 1:
        accelerate(args.accelerate)
    total = args.clusters * args.policies
    hour = 3600 / args.accelerate
    with (
        tempfile.TemporaryDirectory(prefix="drd-fleet-") as scratch,
        fleet(args.clusters, args.servers, args.policies, hour) as built,
    ):
        directory = Path(scratch)
        kubeconfig, config = scale.write_config(directory, built.urls, policies=args.policies, retention=True)
        state = directory / "drd.sqlite"
        seeded = scale.seed_store(state, built.urls, policies=args.policies, backups=args.backups_per_policy)
        print(
            f"{args.clusters} emulated clusters in {args.servers} processes, {total} backup policies with retention,"
            f" {total * args.backups_per_policy} backups seeded ({seeded:.1f} s), {args.probes} cron probes,"
            f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, accelerate × {args.accelerate:g}"
        )
        settings = Settings.from_env(
            {
                "DRD_CONFIG": str(config),
                "DRD_STATE": str(state),
                "KUBECONFIG": str(kubeconfig),
                "DRD_LISTEN": "127.0.0.1:0",
                "DRD_LEADER_ENABLED": "true" if args.leader else "false",
                "DRD_LEADER_CLUSTER": scale.cluster_name(0),
                "DRD_SHUTDOWN_GRACE_SECONDS": "10",
            }
        )
        rows: list[scale.Row] = [("RSS before the daemon (imports, store seeded)", "MB", scale.memory()["VmRSS"], "")]
        daemon = Daemon(settings, identity="benchmark")
        recorded = scale.instrument(daemon)
        counted = watch_detection(daemon)
        add_probes(daemon, args.probes)
        jitter = watch_jitter(daemon)
        stop = threading.Event()
        loop = threading.Thread(target=daemon.run, args=(stop,), name="daemon-run", daemon=True)
        try:
            rows += scale.start_up(daemon, recorded, total, profiled=False)
            loop.start()
            rows += scale.reconcile_passes(daemon, recorded, total)
            rows += scale.scrapes(daemon, args.scrapes)
            time.sleep(2.0)  # let the passes' stragglers finish before the window
            rows += steady_state(daemon, built, jitter, args)
            jitters = jitter_table(jitter)
        finally:
            stop.set()
            stopping = time.perf_counter()
            daemon.shutdown()
            rows.append(("shutdown()", "s", time.perf_counter() - stopping, ""))
            rows.append(("RSS peak over the whole run (VmHWM)", "MB", scale.memory()["VmHWM"], "rss"))
    rows += detection_rows(built.completed, counted)
    report(rows)
    print("\n" + "\n".join(jitters))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--policies", type=int, default=5, help="backup policies per cluster")
    parser.add_argument("--servers", type=int, default=4, help="child processes serving the emulated clusters")
    parser.add_argument("--backups-per-policy", type=int, default=10, help="Completed backups seeded in the store")
    parser.add_argument("--scrapes", type=int, default=50, help="scrapes per /metrics variant, before the window")
    parser.add_argument("--window", type=float, default=300.0, help="steady-state wall seconds (default: 300)")
    parser.add_argument("--accelerate", type=float, default=1.0, help="divide job intervals and periods by this")
    parser.add_argument("--scrape-every", type=float, default=15.0, help="Prometheus' scrape interval in the window")
    parser.add_argument("--probes", type=int, default=10, help="no-op cron jobs (* * * * *) measuring cron jitter")
    parser.add_argument("--leader", action="store_true", help="leader election on (Lease in cluster-000)")
    parser.add_argument(
        "--serve", nargs=5, metavar=("FIRST", "COUNT", "POLICIES", "PERIOD", "OFFSET"), help=argparse.SUPPRESS
    )
    parser.add_argument("--scraper", nargs=2, metavar=("URL", "EVERY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        first, count, policies, period, offset = args.serve
        serve(int(first), int(count), int(policies), float(period), float(offset))
    elif args.scraper:
        scraper(args.scraper[0], float(args.scraper[1]))
    else:
        run(args)


if __name__ == "__main__":
    main()
