"""``drd sandbox demo``: the sandbox and the daemon, narrated.

Starts the simulated environment and drd's daemon on it, then shows, step by
step and with timings: the daemon winning the leader Lease and turning each
BackupPolicy into a Velero Schedule; a backup on demand observed into drd's
store and metrics; the tarball replicating to the DR region and syncing into
the DR cluster, restored there into an isolated namespace and Ready; the
first *scheduled* backup completing on its own; and a Velero failure counted
as a failure, never as a success. Everything goes through the real client
libraries over HTTP, exactly as in production.
"""

from __future__ import annotations

import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from drd.backups import run as backups
from drd.cli import demo_lifecycle, output, status_report
from drd.clients.connect import Connections
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DEPLOYMENTS, STATEFULSETS, VELERO_BACKUPS, VELERO_RESTORES, VELERO_SCHEDULES
from drd.clock import SystemClock
from drd.daemon.app import Daemon
from drd.daemon.drill_recorder import finish_drill
from drd.drills import report
from drd.drills.run import start_drill
from drd.outcomes import Outcome
from drd.sandbox.environment import Sandbox, SandboxOptions
from drd.sandbox.files import write_files
from drd.settings import Settings
from drd.velero import archive
from drd.velero.layout import BucketLayout
from drd.velero.vocabulary import RestorePhase

_METRICS_SHOWN = ("drd_leader", "drd_backup_runs_total", "drd_rpo_seconds", "drd_objective_met")


class Narrator:
    """Numbered steps and indented facts, with elapsed time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()
        self.step_number = 0

    def step(self, title: str) -> None:
        self.step_number += 1
        self.out.write(f"\n[{time.monotonic() - self.started:6.1f}s] {self.step_number}. {title}\n")
        self.out.flush()

    def fact(self, text: str) -> None:
        self.out.write(f"          {text}\n")
        self.out.flush()


def run_demo(out: TextIO, *, directory: Path | None = None, options: SandboxOptions | None = None) -> int:
    """Run the narrated demo; 0 when every step did what it should."""
    say = Narrator(out)
    say.step("Starting the sandbox: simulated clusters, Velero, S3 with cross-region replication, OpenBao")
    with Sandbox(options or SandboxOptions()) as sandbox, tempfile.TemporaryDirectory(prefix="drd-demo-") as scratch:
        _describe(sandbox, say)
        paths = write_files(sandbox, directory or Path(scratch))
        say.fact(f"wrote {paths['env']} (source it), {paths['kubeconfig']}, {paths['config']}/")
        daemon = _start_daemon(sandbox, paths, say)
        try:
            return _story(sandbox, daemon, say, directory)
        finally:
            daemon.shutdown()


def _story(sandbox: Sandbox, daemon: Daemon, say: Narrator, directory: Path | None) -> int:
    primary = sandbox.cluster("primary-east").kube
    _show_schedules(daemon, primary, say)
    backup_name = _backup_now(sandbox, daemon, say)
    if backup_name is None or not _round_trip(sandbox, daemon, backup_name, say, directory):
        return 1
    if not _scheduled_backup(daemon, primary, say):
        return 1
    if not demo_lifecycle.rotate_a_secret(daemon, say):
        return 1
    if not demo_lifecycle.upgrade_the_canary(daemon, say):
        return 1
    _failure(sandbox, daemon, say)
    say.step("Summary")
    _print_status(daemon, say)
    say.fact("keep it running yourself: drd sandbox up --dir sb, then `source sb/env` and `drd daemon`, `drd status`")
    return 0


def _show_schedules(daemon: Daemon, primary: KubeClient, say: Narrator) -> None:
    config = daemon.config.current
    assert config is not None
    say.step("The daemon leads (Lease drd/drd-leader in primary-east) and turns each BackupPolicy into a Schedule")
    for schedule in _wait(lambda: _schedules(primary, len(config.backup_policies)), timeout=30) or []:
        spec = schedule["spec"]
        say.fact(f"Schedule {schedule['metadata']['name']}: {spec['schedule']!r}, ttl {spec['template'].get('ttl')}")
    say.fact(f"/readyz: {_readyz(daemon)}")


def _backup_now(sandbox: Sandbox, daemon: Daemon, say: Narrator) -> str | None:
    say.step("Back up the shop now (drd backup now shop --wait), watched by the daemon into its store")
    config = daemon.config.current
    assert config is not None
    policy = config.backup_policies["shop"]
    began = time.monotonic()

    def progress(obj: Any) -> None:
        phase = (obj.get("status") or {}).get("phase") or "New"
        say.fact(f"{obj['metadata']['name']}: {phase}  +{time.monotonic() - began:.1f}s")

    primary = sandbox.cluster("primary-east").kube
    cluster = config.source_cluster(policy)
    outcome = backups.backup_now(
        primary, policy, cluster, wait=True, timeout_seconds=60, clock=SystemClock(), on_phase=progress
    )
    if outcome.phase.value != "Completed":
        say.fact(f"backup ended {outcome.phase.value}: {outcome.details.get('reason', '')}")
        return None
    backup_name = str(outcome.details["backup"])
    _wait(lambda: _store_has(daemon, backup_name), timeout=10)
    _describe_tarball(sandbox, backup_name, say)
    _print_status(daemon, say)
    return backup_name


def _round_trip(sandbox: Sandbox, daemon: Daemon, backup_name: str, say: Narrator, directory: Path | None) -> bool:
    dr = sandbox.cluster("dr-west").kube
    began = time.monotonic()
    say.step("Replication to us-west-2, then Velero's backup sync in dr-west (through a ReadOnly location)")
    synced = _wait(lambda: dr.find(VELERO_BACKUPS, backup_name, namespace="velero"), timeout=60)
    if synced is None:
        say.fact("the backup did not reach dr-west within 60s: replication or sync is broken")
        return False
    location = synced["spec"]["storageLocation"]
    say.fact(f"dr-west sees {backup_name} via location {location!r}, {time.monotonic() - began:.1f}s later")
    return _drill(daemon, say, directory)


def _drill(daemon: Daemon, say: Narrator, directory: Path | None) -> bool:
    """A real cross-region restore drill of the shop (drd drill run shop-drill), on the daemon's engine."""
    say.step("Drill: restore the shop into isolated namespaces of dr-west, prove it works, measure, tear down")
    config = daemon.config.current
    assert config is not None
    assert daemon.runbook_runs is not None
    assert daemon.store is not None
    assembly = daemon.runbook_runs.assembly(config)
    record = start_drill(assembly.engine, config, config.drill_policies["shop-drill"], trigger="demo")
    final = assembly.engine.execute(record.id)
    evidence = finish_drill(daemon.store, record.id, config=config)
    for line in report.render_text(evidence).splitlines():
        if line.strip():
            say.fact(line)
    if directory is not None:
        page = directory / "drill-report.html"
        page.write_text(report.render_html(evidence), encoding="utf-8")
        say.fact(f"evidence for auditors: {page} (drd drill report {record.id} --html FILE)")
    return final.phase.terminal and evidence["result"] == "passed"


def _scheduled_backup(daemon: Daemon, primary: KubeClient, say: Narrator) -> bool:
    say.step("Velero's Schedule takes the next backup on its own (@every 1m): drd observes it by watch")
    scheduled = _wait(lambda: _scheduled_completed(primary), timeout=90)
    if scheduled is None:
        say.fact("no scheduled backup completed within 90s")
        return False
    made_by = scheduled["metadata"]["labels"]["velero.io/schedule-name"]
    say.fact(f"{scheduled['metadata']['name']} Completed (made by Schedule {made_by})")
    _wait(lambda: _store_has(daemon, scheduled["metadata"]["name"]), timeout=10)
    _print_metrics(daemon, say)
    return True


def _failure(sandbox: Sandbox, daemon: Daemon, say: Narrator) -> None:
    say.step("Now Velero fails: the failure is counted as such and announced, never as a success")
    config = daemon.config.current
    assert config is not None
    policy = config.backup_policies["shop"]
    primary = sandbox.cluster("primary-east").kube
    sandbox.velero_faults.backup_outcome = "Failed"
    try:
        failed: Outcome = backups.backup_now(
            primary, policy, config.source_cluster(policy), wait=True, timeout_seconds=60, clock=SystemClock()
        )
    finally:
        sandbox.velero_faults.clear()
    say.fact(f"{failed.details.get('backup')}: {failed.phase.value}: {failed.details.get('reason', '')}")
    _wait(lambda: 'phase="Failed",policy="shop"} 1.0' in _metrics_text(daemon), timeout=10)
    _print_metrics(daemon, say)
    say.fact('drd_objective_met{objective="rpo"} stays 1 while the last good backup is younger than the 3m objective,')
    say.fact("then flips to 0 and the RPO keeps climbing while backups keep failing (alert: RPOObjectiveBreached)")


def _start_daemon(sandbox: Sandbox, paths: dict[str, Path], say: Narrator) -> Daemon:
    say.step("Starting drd's daemon on it (leader election, jobs, /metrics /healthz /readyz)")
    env = {
        "DRD_CONFIG": str(paths["config"]),
        "DRD_STATE": str(paths["state"]),
        "KUBECONFIG": str(paths["kubeconfig"]),
        "DRD_LISTEN": "127.0.0.1:0",
        "DRD_LEADER_NAMESPACE": "drd",
        "DRD_LEADER_LEASE_SECONDS": "6",
        "DRD_LEADER_RENEW_SECONDS": "4",
        "DRD_LEADER_RETRY_SECONDS": "1",
    }
    if sandbox.vault is not None:
        env |= {"VAULT_ADDR": sandbox.vault.url, "VAULT_TOKEN": sandbox.vault.root_token}
    daemon = Daemon(Settings.from_env(env), identity="drd-demo")
    daemon.start()
    threading.Thread(target=daemon.run, args=(threading.Event(),), name="daemon-loop", daemon=True).start()
    say.fact(f"listening on http://127.0.0.1:{daemon.http.port} (metrics, healthz, readyz); store {paths['state']}")
    return daemon


def _describe(sandbox: Sandbox, say: Narrator) -> None:
    for cluster in sandbox.clusters.values():
        spec = cluster.spec
        say.fact(
            f"{spec.name:<13} {spec.region:<10} {spec.role:<8} Kubernetes {spec.kubernetes_version}  {cluster.url}"
        )
    say.fact(f"S3 (moto)     {sandbox.moto.url}  buckets: {', '.join(sandbox.buckets)}")
    for replicator in sandbox.replicators:
        source, destination = replicator.source.bucket, replicator.destination.bucket
        say.fact(f"replication   {source} → {destination} (lag {replicator.lag_seconds:.0f}s)")
    if sandbox.vault is not None:
        say.fact(f"Vault (OpenBao dev server) {sandbox.vault.url}")


def _schedules(kube: KubeClient, count: int) -> list[dict[str, Any]] | None:
    found = kube.list_objects(
        VELERO_SCHEDULES, namespace="velero", label_selector="app.kubernetes.io/managed-by=drd"
    ).items
    return found if len(found) >= count else None


def _readyz(daemon: Daemon) -> str:
    ready = daemon.readiness()
    return "ready" if ready.ready else "not ready: " + "; ".join(ready.reasons)


def _describe_tarball(sandbox: Sandbox, backup_name: str, say: Narrator) -> None:
    layout = BucketLayout("primary-east")
    bucket = sandbox.buckets["drd-backups-us-east-1"]
    tarball = bucket.get(layout.backup_contents(backup_name))
    _, objects = archive.read_backup_tarball(tarball)
    say.fact(
        f"s3://{bucket.bucket}/{layout.backup_contents(backup_name)}: {len(tarball)} bytes, {len(objects)} objects"
    )


def _restore(dr: KubeClient, backup_name: str, say: Narrator) -> dict[str, Any]:
    name = f"{backup_name}-dr-west"
    body = {
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": {"name": name},
        "spec": {"backupName": backup_name, "namespaceMapping": {"shop": "drill-shop"}},
    }
    dr.create(VELERO_RESTORES, body, namespace="velero")
    started = time.monotonic()
    last = None
    while time.monotonic() - started < 120:
        restore = dr.get(VELERO_RESTORES, name, namespace="velero")
        status = restore.get("status") or {}
        phase = status.get("phase") or "New"
        if phase != last:
            progress = status.get("progress") or {}
            counts = f" ({progress.get('itemsRestored')}/{progress.get('totalItems')} items)" if progress else ""
            say.fact(f"Restore {name}: {phase}{counts}  +{time.monotonic() - started:.1f}s")
            last = phase
        if phase in RestorePhase.TERMINAL:
            return restore
        time.sleep(0.1)
    return dr.get(VELERO_RESTORES, name, namespace="velero")


def _wait_ready(kube: KubeClient, namespace: str, say: Narrator) -> bool:
    def all_ready() -> list[str] | None:
        lines = []
        for resource in (DEPLOYMENTS, STATEFULSETS):
            for obj in kube.list_objects(resource, namespace=namespace).items:
                status, wanted = obj.get("status") or {}, obj["spec"].get("replicas", 1)
                if status.get("observedGeneration") != obj["metadata"].get("generation"):
                    return None
                if status.get("readyReplicas", 0) != wanted:
                    return None
                lines.append(f"{resource.kind} {obj['metadata']['name']}: {wanted}/{wanted} ready")
        return lines or None

    lines = _wait(all_ready, timeout=60)
    for line in lines or []:
        say.fact(line)
    return bool(lines)


def _scheduled_completed(kube: KubeClient) -> dict[str, Any] | None:
    for backup in kube.list_objects(
        VELERO_BACKUPS, namespace="velero", label_selector="velero.io/schedule-name=drd-shop"
    ).items:
        if (backup.get("status") or {}).get("phase") == "Completed":
            return backup
    return None


def _store_has(daemon: Daemon, name: str) -> bool:
    return daemon.store is not None and any(r.name == name for r in daemon.store.backups(policy="shop", limit=20))


def _metrics_text(daemon: Daemon) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http.port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def _print_metrics(daemon: Daemon, say: Narrator) -> None:
    for line in _metrics_text(daemon).splitlines():
        if line.startswith(_METRICS_SHOWN) and 'policy="catalog-api"' not in line and not line.endswith(" 0.0"):
            say.fact(line)


def _print_status(daemon: Daemon, say: Narrator) -> None:
    config, store = daemon.config.current, daemon.store
    if config is None or store is None:
        return
    connections = Connections(default_kubeconfig=daemon.settings.kube.kubeconfig, timeout_seconds=5)
    try:
        rows = status_report.build(config, store, connections, now=SystemClock().now())
    finally:
        connections.close()
    import io

    table = io.StringIO()
    output.render_table([r.to_row() for r in rows], status_report.COLUMNS, table)
    say.fact("drd status:")
    for line in table.getvalue().splitlines():
        say.fact(f"  {line}")


def _wait(check: Callable[[], Any], *, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return None
