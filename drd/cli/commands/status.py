"""``drd status`` and ``drd backup now``: what recovery looks like now, and a backup on demand."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``status`` and the ``backup`` group."""
    status = commands.add_parser(
        "status",
        parents=parents,
        help="per application: last good backup, RPO vs objective, last drill, RTO vs objective, breaches first",
    )
    status.set_defaults(handler="drd.cli.commands.status:status")
    backup = commands.add_parser("backup", parents=parents, help="backups on demand")
    sub = backup.add_subparsers(title="backup commands", metavar="COMMAND")
    now = sub.add_parser("now", parents=parents, help="create a Velero Backup with a policy's scope now")
    now.add_argument("policy", metavar="POLICY", help="a BackupPolicy name")
    now.add_argument("--wait", action="store_true", help="wait until Velero finishes (exit 1 unless Completed)")
    now.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="how long --wait waits")
    now.set_defaults(handler="drd.cli.commands.status:backup_now")
    backup.set_defaults(handler=group_help.HANDLER, group_parser=backup)


def status(ctx: CliContext, args: argparse.Namespace) -> int:
    """Print the report; breaches first."""
    from drd.cli import output, status_report
    from drd.clients.connect import Connections
    from drd.clock import SystemClock
    from drd.policy.loader import load_config
    from drd.store import open_store

    config = load_config([ctx.settings.config.directory])
    connections = Connections(default_kubeconfig=ctx.settings.kube.kubeconfig, timeout_seconds=5)
    with open_store(ctx.settings.store.url) as store:
        rows = status_report.build(config, store, connections, now=SystemClock().now())
    connections.close()
    if ctx.output == "table":
        output.render_table([r.to_row() for r in rows], status_report.COLUMNS, ctx.stdout)
    else:
        ctx.render({"applications": [r.to_json() for r in rows]})
    return ExitCode.OK


def backup_now(ctx: CliContext, args: argparse.Namespace) -> int:
    """Create the backup (and wait), record the outcome, print it."""
    from prometheus_client import CollectorRegistry

    from drd.backups import run as backups
    from drd.backups.observe import observation
    from drd.clients.connect import Connections
    from drd.clients.kube_resources import VELERO_BACKUPS
    from drd.clock import SystemClock
    from drd.daemon.recorder import Recorder
    from drd.errors import ConfigError
    from drd.metrics import Metrics
    from drd.policy.loader import load_config
    from drd.store import open_store

    config = load_config([ctx.settings.config.directory])
    policy = config.backup_policies.get(args.policy)
    if policy is None:
        known = ", ".join(sorted(config.backup_policies)) or "none"
        raise ConfigError(f'no BackupPolicy "{args.policy}" in {ctx.settings.config.directory} (known: {known})')
    cluster = config.source_cluster(policy)
    connections = Connections(default_kubeconfig=ctx.settings.kube.kubeconfig)
    try:
        kube = connections.get(cluster)

        def progress(obj: Any) -> None:
            status = obj.get("status") or {}
            ctx.stderr.write(f"{obj['metadata']['name']}: {status.get('phase') or 'New'}\n")

        outcome = backups.backup_now(
            kube,
            policy,
            cluster,
            wait=args.wait,
            timeout_seconds=args.timeout,
            clock=SystemClock(),
            on_phase=progress if args.wait else None,
        )
        backup = kube.find(
            VELERO_BACKUPS, str(outcome.details.get("backup", "")), namespace=cluster.spec.velero_namespace
        )
    finally:
        connections.close()
    with open_store(ctx.settings.store.url) as store:
        Recorder(store=store, metrics=Metrics(CollectorRegistry())).record(outcome, trigger="cli")
        observed = observation(backup, cluster=cluster.metadata.name) if backup else None
        if observed is not None:  # the daemon would record it too; upserts are idempotent
            store.record_backup(**observed.record_fields())
    if ctx.output == "table":
        ctx.stdout.write(f"{outcome.details.get('backup', '-')}: {outcome.phase.value}\n")
    else:
        ctx.render({"phase": outcome.phase.value, **dict(outcome.details)})
    if not args.wait:
        return ExitCode.OK
    return ExitCode.OK if outcome.phase.succeeded else ExitCode.FAILED
