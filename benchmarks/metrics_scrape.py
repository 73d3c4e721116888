"""Cost of one ``/metrics`` scrape with 100 clusters × 5 backup policies: drd's encoder against prometheus-client's.

Run: ``.venv/bin/python benchmarks/metrics_scrape.py [--clusters 100] [--policies 5] [--scrapes 50]
[--drills] [--no-created] [--churn N]``. Builds :class:`drd.metrics.Metrics` in steady state
(every policy has had Completed, PartiallyFailed and Failed backups, its RPO comes from an
in-memory provider). For a plain client, for Prometheus 2's ``Accept`` header and for Prometheus
3's (see ``ACCEPT``) it times the encoder ``/metrics`` uses (``drd.metrics.exposition.negotiate``)
and, for comparison, prometheus-client's own (``choose_encoder``), and says whether their bodies
are byte-for-byte identical. p50/p95 in wall time and in this thread's CPU time (the fairer
figure on a shared machine), with the number of lines and bytes. Target: p50 <= 100 ms.

``--churn N``: before each timed scrape (not timed), N policies record one more backup, so
their counters, last-success gauge and duration histogram change and drd's encoder formats
them again (its per-series cache only spares series whose values did not change); ``--churn``
equal to the number of policies is the worst case. ``--no-created`` measures with
prometheus-client's ``*_created`` series disabled (``disable_created_metrics()``), as the daemon
runs. Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from drd import logs
from drd.metrics import Metrics, RpoSample
from drd.metrics.exposition import negotiate
from drd.outcomes import Phase
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.drill import DrillPolicy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

ACCEPT = {
    "text 0.0.4": "",
    "Prometheus 2": "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Prometheus 3": "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
}
"""What the /metrics handler answers each client with (choose_encoder): plain text, OpenMetrics with
``escaping=underscores`` (prometheus-client escapes every sample name character by character then),
and OpenMetrics with ``escaping=allow-utf-8``."""


class FixedClock:
    """A clock an hour after the backups completed."""

    def now(self) -> datetime:
        return T0 + timedelta(hours=1)

    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass


def backup_policy(name: str, cluster: str) -> BackupPolicy:
    spec = {
        "application": name,
        "cluster": cluster,
        "scope": {"includedNamespaces": [name]},
        "schedule": "0 * * * *",
        "objectives": {"rpo": "2h"},
    }
    return BackupPolicy.model_validate(
        {"apiVersion": "drd.dev/v1", "kind": "BackupPolicy", "metadata": {"name": name}, "spec": spec}
    )


def drill_policy(name: str, backup: str) -> DrillPolicy:
    spec = {"backupPolicy": backup, "target": "dr-west", "schedule": "@daily", "objectives": {"rto": "30m"}}
    return DrillPolicy.model_validate(
        {"apiVersion": "drd.dev/v1", "kind": "DrillPolicy", "metadata": {"name": name}, "spec": spec}
    )


def build(*, clusters: int, per_cluster: int, drills: bool) -> tuple[CollectorRegistry, Metrics]:
    """A registry as a daemon with that many policies has it after a day of backups, and its Metrics."""
    registry = CollectorRegistry()
    policies = [backup_policy(f"app-{c}-{p}", f"cluster-{c}") for c in range(clusters) for p in range(per_cluster)]
    drill_policies = [drill_policy(f"{policy.name}-drill", policy.name) for policy in policies] if drills else []
    samples = [RpoSample.for_policy(policy, T0) for policy in policies]
    metrics = Metrics(registry, rpo_provider=lambda: samples, clock=FixedClock())
    metrics.set_policies(policies, drill_policies)
    for policy in policies:
        for phase in (Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED):
            metrics.observe_backup(
                policy=policy.name,
                cluster=policy.spec.cluster,
                phase=phase,
                started=T0 - timedelta(minutes=4),
                completed=T0,
            )
    for drill in drill_policies:
        metrics.observe_drill(
            policy=drill.name,
            result="passed",
            finished=T0,
            rto_seconds=600,
            restored_backup_age_seconds=900,
            phase_seconds={"restore": 300, "verify": 200, "teardown": 100},
        )
    metrics.set_leader(True)
    return registry, metrics


class Churn:
    """Records one more Completed backup for the next ``count`` policies (round robin), as time goes by."""

    def __init__(self, metrics: Metrics, policies: list[tuple[str, str]], count: int) -> None:
        self.metrics, self.policies, self.count = metrics, policies, count
        self.next = 0
        self.completed = T0

    def __call__(self) -> None:
        for _ in range(self.count):
            policy, cluster = self.policies[self.next % len(self.policies)]
            self.next += 1
            self.completed += timedelta(seconds=1)
            self.metrics.observe_backup(
                policy=policy,
                cluster=cluster,
                phase=Phase.COMPLETED,
                started=self.completed - timedelta(seconds=90 + self.next % 600),
                completed=self.completed,
            )


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def measure(
    count: int, call: Callable[[], bytes], before: Callable[[], None] = lambda: None
) -> tuple[list[float], list[float], bytes]:
    """Wall and CPU (this thread) seconds of each call (after an untimed ``before``), and the last output."""
    wall, cpu, output = [], [], b""
    for _ in range(count):
        before()
        started, started_cpu = time.perf_counter(), time.thread_time()
        output = call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
    return wall, cpu, output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--policies", type=int, default=5, help="backup policies per cluster")
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--drills", action="store_true", help="also one drill policy per backup policy")
    parser.add_argument("--no-created", action="store_true", help="disable the *_created series")
    parser.add_argument("--churn", type=int, default=0, help="policies that record a backup before each scrape")
    args = parser.parse_args()
    logs.configure(level="WARNING")
    if args.no_created:
        prometheus_client.disable_created_metrics()
    registry, metrics = build(clusters=args.clusters, per_cluster=args.policies, drills=args.drills)
    total = args.clusters * args.policies
    pairs = [(f"app-{c}-{p}", f"cluster-{c}") for c in range(args.clusters) for p in range(args.policies)]
    churn = Churn(metrics, pairs, args.churn)
    print(
        f"{total} backup policies ({args.clusters} clusters × {args.policies})"
        f"{', a drill policy each' if args.drills else ''}; *_created series {'off' if args.no_created else 'on'};"
        f" {args.churn} policies record a backup before each scrape"
    )
    for label, accept in ACCEPT.items():
        reference, _ = choose_encoder(accept)
        fast, _ = negotiate(accept)
        rows = {}
        for name, encoder in (("prometheus-client", reference), ("drd", fast)):
            wall, cpu, output = measure(args.scrapes, lambda encoder=encoder: encoder(registry), churn)
            rows[name] = (percentiles(wall), percentiles(cpu), output)
        churn()
        identical = reference(registry) == fast(registry)  # same state, no churn in between
        print(f"  {label}: bodies identical: {'yes' if identical else 'NO'}")
        for name, ((p50, p95), (cpu50, cpu95), output) in rows.items():
            lines = output.count(b"\n")
            print(
                f"    {name:<17} wall p50 {p50:6.1f} ms p95 {p95:6.1f} ms | cpu p50 {cpu50:6.1f} ms p95 {cpu95:6.1f} ms"
                f" | {lines:>6} lines {len(output) / 1024:6.0f} KiB"
            )
        (_, _), (ref50, _), _ = rows["prometheus-client"]
        (_, _), (fast50, _), _ = rows["drd"]
        print(f"    cpu p50 ratio prometheus-client / drd: {ref50 / fast50:.1f}×")


if __name__ == "__main__":
    main()
