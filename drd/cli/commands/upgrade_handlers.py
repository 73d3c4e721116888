"""The handlers behind ``drd upgrade …`` (imported only when such a command runs)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drd.cli import output
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode
from drd.clients.connect import Connections
from drd.clients.errors import KubeError
from drd.daemon.upgrade_ledger import StoreLedger
from drd.daemon.upgrade_recorder import finish_upgrade_run
from drd.errors import ConfigError
from drd.policy.durations import format_duration
from drd.policy.loader import load_config
from drd.policy.models.upgrade import UpgradePlan, resolve_stages
from drd.runbooks.assembly import Assembly, assemble
from drd.store import Store, open_store
from drd.upgrades import facts as gathering
from drd.upgrades import plan as planning
from drd.upgrades import progress
from drd.upgrades import run as upgrade_run
from drd.upgrades.preflight import ClusterFacts
from drd.upgrades.steps import upgrade_actions


def plan(ctx: CliContext, args: argparse.Namespace) -> int:
    """Print the plan; exit 1 if any pre-flight finding blocks, 0 otherwise."""
    config = load_config([ctx.settings.config.directory])
    plans = config.of_kind(UpgradePlan)
    document = plans.get(args.plan)
    if document is None:
        known = ", ".join(sorted(plans)) or "none"
        raise ConfigError(f'no UpgradePlan "{args.plan}" in {ctx.settings.config.directory} (known: {known})')
    stages = resolve_stages(document, config.clusters)
    found: dict[str, ClusterFacts | str] = {}
    connections = Connections(
        default_kubeconfig=ctx.settings.kube.kubeconfig, timeout_seconds=ctx.settings.kube.request_timeout_seconds
    )
    try:
        for stage in stages:
            for cluster in stage.clusters:
                try:
                    found[cluster.name] = gathering.gather(connections.get(cluster), cluster=cluster.name)
                except KubeError as exc:
                    found[cluster.name] = f"cannot read the cluster: {exc}"
    finally:
        connections.close()
    report = planning.build(document, stages, found)
    if ctx.output == "table":
        _print(ctx, report)
    else:
        ctx.render(report.to_dict())
    return ExitCode.FAILED if report.blocked else ExitCode.OK


def _print(ctx: CliContext, report: planning.PlanReport) -> None:
    out = ctx.stdout
    out.write(f"UpgradePlan {report.plan}: target {report.target}\n")
    for stage in report.stages:
        gates = ", ".join(stage.gates) or "none"
        out.write(
            f"\nstage {stage.index + 1} {stage.name} (concurrency {stage.concurrency}, "
            f"soak {format_duration(stage.soak)}, gates: {gates})\n"
        )
        for cluster in stage.clusters:
            verdict = "BLOCKED" if cluster.blocked else "ready"
            out.write(
                f"  {cluster.cluster} ({cluster.role}): {cluster.current or 'unknown'} → {cluster.target}  {verdict}\n"
            )
            for finding in cluster.findings:
                out.write(f"    {finding}\n")
            for number, step in enumerate(cluster.steps, 1):
                out.write(f"    {number}. {step}\n")
    verdict = "blocked: fix the blocking findings above" if report.blocked else "no blocking findings"
    ctx.stderr.write(f"{report.plan}: {verdict}\n")


STATUS_COLUMNS = ("STAGE", "CLUSTER", "PHASE", "RUN", "REASON")


def run(ctx: CliContext, args: argparse.Namespace) -> int:
    """Upgrade the fleet stage by stage until done, halted or waiting for an operator (exit 0 only when done)."""
    with _driver(ctx, args.plan) as (driver, store, assembly):
        seen: set[tuple[str, str, str]] = set()

        def show(now: progress.Progress) -> None:
            for cluster in now.clusters:
                key = (cluster.cluster, cluster.phase, cluster.run or "")
                if key not in seen and cluster.phase != "pending":
                    seen.add(key)
                    ctx.stderr.write(f"{now.plan}: {cluster.stage}/{cluster.cluster} {cluster.phase}\n")

        if args.detach:
            started = driver.advance()
            ctx.stderr.write(f"{started.plan}: started; the daemon carries it on (drd upgrade status {started.plan})\n")
            return _report(ctx, started, exit_on_state=False)
        final = driver.drive(on_progress=show)
        _record_finished(store, driver, assembly)
    return _report(ctx, final)


def status(ctx: CliContext, args: argparse.Namespace) -> int:
    """Where the plan stands, per stage and cluster (changes nothing)."""
    with _driver(ctx, args.plan) as (driver, _, _):
        now = driver.status()
    return _report(ctx, now, exit_on_state=False)


def resume(ctx: CliContext, args: argparse.Namespace) -> int:
    """Make what halted the plan runnable again (recorded with who), then carry on unless --no-run."""
    with _driver(ctx, args.plan) as (driver, store, assembly):
        for line in upgrade_run.resume(
            driver, actor=assembly.env.identity, cluster=args.cluster, comment=args.comment or ""
        ):
            ctx.stderr.write(f"{args.plan}: {line}\n")
        if args.no_run:
            return _report(ctx, driver.status(), exit_on_state=False)
        final = driver.drive()
        _record_finished(store, driver, assembly)
    return _report(ctx, final)


def skip(ctx: CliContext, args: argparse.Namespace) -> int:
    """Leave one cluster on its version (recorded with who and why) so later stages may go on."""
    with _driver(ctx, args.plan) as (driver, store, assembly):
        line = upgrade_run.skip(driver, cluster=args.cluster, actor=assembly.env.identity, reason=args.reason)
        ctx.stderr.write(f"{args.plan}: {line}\n")
        _record_finished(store, driver, assembly)
        now = driver.status()
    return _report(ctx, now, exit_on_state=False)


@contextmanager
def _driver(ctx: CliContext, name: str) -> Iterator[tuple[upgrade_run.UpgradeDriver, Store, Assembly]]:
    config = load_config([ctx.settings.config.directory])
    try:
        document = upgrade_run.find_plan(config, name)
    except upgrade_run.UpgradeError as exc:
        raise ConfigError(f"{exc} in {ctx.settings.config.directory}") from exc
    with open_store(ctx.settings.store.url) as store:
        assembly = assemble(ctx.settings, config, store, extra_actions=upgrade_actions())
        try:
            driver = upgrade_run.UpgradeDriver(
                assembly.engine, config, document, StoreLedger(store), requested_by=assembly.env.identity
            )
            yield driver, store, assembly
        finally:
            assembly.close()


def _record_finished(store: Store, driver: upgrade_run.UpgradeDriver, assembly: Assembly) -> None:
    for record in driver.ledger.runs(driver.plan.name):
        if record.phase.terminal and not record.details.get("counted"):
            finish_upgrade_run(store, record.id, notifier=assembly.env.notifier)


def _report(ctx: CliContext, now: progress.Progress, *, exit_on_state: bool = True) -> int:
    rows = [
        {
            "STAGE": cluster.stage,
            "CLUSTER": cluster.cluster,
            "PHASE": cluster.phase,
            "RUN": cluster.run or "-",
            "REASON": cluster.reason or "-",
        }
        for cluster in now.clusters
    ]
    if ctx.output == "table":
        output.render_table(rows, STATUS_COLUMNS, ctx.stdout)
        for stage in now.stages:
            if stage.reason:
                ctx.stdout.write(f"stage {stage.name}: {stage.phase}: {stage.reason}\n")
        ctx.stderr.write(f"{now.plan}: {now.phase.value}{': ' + now.reason if now.reason else ''}\n")
        if now.phase in (progress.PlanPhase.HALTED, progress.PlanPhase.WAITING):
            ctx.stderr.write(f"resume with: drd upgrade resume {now.plan}\n")
    else:
        ctx.render(_as_data(now))
    if not exit_on_state:
        return ExitCode.OK
    return ExitCode.OK if now.phase is progress.PlanPhase.DONE else ExitCode.FAILED


def _as_data(now: progress.Progress) -> dict[str, Any]:
    return {
        "plan": now.plan,
        "phase": now.phase.value,
        "reason": now.reason,
        "stages": [
            {
                "name": stage.name,
                "phase": stage.phase,
                "run": stage.run,
                "reason": stage.reason,
                "clusters": [
                    {"cluster": c.cluster, "phase": c.phase, "run": c.run, "reason": c.reason} for c in stage.clusters
                ],
            }
            for stage in now.stages
        ],
    }
