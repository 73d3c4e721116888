"""The handlers behind ``drd upgrade …`` (imported only when such a command runs)."""

from __future__ import annotations

import argparse

from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode
from drd.clients.connect import Connections
from drd.clients.errors import KubeError
from drd.errors import ConfigError
from drd.policy.durations import format_duration
from drd.policy.loader import load_config
from drd.policy.models.upgrade import UpgradePlan, resolve_stages
from drd.upgrades import facts as gathering
from drd.upgrades import plan as planning
from drd.upgrades.preflight import ClusterFacts


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
