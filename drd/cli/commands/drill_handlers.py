"""The handlers behind ``drd drill …`` (imported only when such a command runs)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from drd.cli import output
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode
from drd.daemon.drill_recorder import finish_drill
from drd.drills import report as reports
from drd.drills.run import KIND, start_drill
from drd.errors import ConfigError
from drd.policy.loader import load_config
from drd.runbooks.assembly import assemble
from drd.store import Store, open_store
from drd.store.errors import NotFound

COLUMNS = ("RUN", "POLICY", "RESULT", "RTO", "RPO", "SCORE", "STARTED")


def run(ctx: CliContext, args: argparse.Namespace) -> int:
    config = load_config([ctx.settings.config.directory])
    policy = config.drill_policies.get(args.policy)
    if policy is None:
        known = ", ".join(sorted(config.drill_policies)) or "none"
        raise ConfigError(f'no DrillPolicy "{args.policy}" in {ctx.settings.config.directory} (known: {known})')
    with open_store(ctx.settings.store.url) as store:
        assembly = assemble(ctx.settings, config, store)
        try:
            record = start_drill(assembly.engine, config, policy, trigger="cli", requested_by=assembly.env.identity)
            ctx.stderr.write(f"drill {record.id}: {policy.name} into {policy.spec.target}\n")
            if args.detach:
                return ExitCode.OK
            final = assembly.engine.execute(record.id)
        finally:
            assembly.close()
        if not final.phase.terminal:
            ctx.stderr.write(f"drill {record.id} is {final.phase.value}: see drd runbook show {record.id}\n")
            return ExitCode.FAILED
        evidence = finish_drill(store, record.id, config=config)
    _print(ctx, evidence)
    return ExitCode.OK if evidence["result"] == "passed" else ExitCode.FAILED


def list_drills(ctx: CliContext, args: argparse.Namespace) -> int:
    with open_store(ctx.settings.store.url) as store:
        records = store.list_runs(kind=KIND, subject=args.policy, limit=args.limit)
    rows = []
    for record in records:
        evidence = record.details.get("evidence") or {}
        measurements = evidence.get("measurements") or {}
        rows.append(
            {
                "RUN": record.id,
                "POLICY": record.subject,
                "RESULT": evidence.get("result") or record.phase.value,
                "RTO": _seconds(measurements.get("rtoSeconds")),
                "RPO": _seconds(measurements.get("rpoSeconds")),
                "SCORE": evidence.get("score", "-"),
                "STARTED": f"{(record.started_at or record.created_at):%Y-%m-%d %H:%M:%S}",
            }
        )
    if ctx.output == "table":
        output.render_table(rows, COLUMNS, ctx.stdout)
    else:
        ctx.render({"drills": rows})
    return ExitCode.OK


def show(ctx: CliContext, args: argparse.Namespace) -> int:
    with open_store(ctx.settings.store.url) as store:
        evidence = _evidence(ctx, store, args.run_id)
    _print(ctx, evidence)
    return ExitCode.OK


def report(ctx: CliContext, args: argparse.Namespace) -> int:
    with open_store(ctx.settings.store.url) as store:
        evidence = _evidence(ctx, store, args.run_id)
    path = Path(args.html)
    path.write_text(reports.render_html(evidence), encoding="utf-8")
    ctx.stderr.write(f"{path}: drill {args.run_id} ({evidence.get('result')})\n")
    return ExitCode.OK


def _evidence(ctx: CliContext, store: Store, run_id: str) -> dict[str, Any]:
    try:
        record = store.get_run(run_id)
    except NotFound:
        raise ConfigError(f"no drill {run_id!r} in the store ({ctx.settings.store.url})") from None
    if record.kind != KIND:
        raise ConfigError(f"run {run_id} is a {record.kind} run, not a drill")
    if not record.phase.terminal:
        raise ConfigError(f"drill {run_id} has not finished ({record.phase.value}): see drd runbook show {run_id}")
    config = None
    with contextlib.suppress(ConfigError):  # without a valid config the evidence lacks the objectives
        config = load_config([ctx.settings.config.directory])
    return finish_drill(store, run_id, config=config)


def _print(ctx: CliContext, evidence: dict[str, Any]) -> None:
    if ctx.output == "table":
        ctx.stdout.write(reports.render_text(evidence))
    else:
        ctx.render(evidence)


def _seconds(value: Any) -> str:
    return f"{value:.1f}s" if isinstance(value, int | float) else "-"
