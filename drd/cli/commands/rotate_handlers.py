"""The handlers behind ``drd rotate …`` (imported only when such a command runs)."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any

from drd.cli import output
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode
from drd.daemon.rotation_recorder import finish_rotation, rotation_result
from drd.errors import ConfigError, PermanentError
from drd.outcomes import Phase
from drd.policy.durations import format_duration
from drd.policy.loader import load_config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import KIND, find_policy, start_rotation
from drd.rotation.steps import rotation_actions
from drd.runbooks.assembly import assemble
from drd.store import Store, open_store
from drd.upgrades.steps import upgrade_actions

COLUMNS = ("POLICY", "LAST RUN", "RESULT", "ROTATED", "AGE", "MAX AGE")


def run(ctx: CliContext, args: argparse.Namespace) -> int:
    config = load_config([ctx.settings.config.directory])
    try:
        policy = find_policy(config, args.policy)
    except PermanentError as exc:
        raise ConfigError(f"{exc} in {ctx.settings.config.directory}") from exc
    with open_store(ctx.settings.store.url) as store:
        assembly = assemble(ctx.settings, config, store, extra_actions={**upgrade_actions(), **rotation_actions()})
        try:
            record = start_rotation(
                assembly.engine,
                config,
                policy,
                trigger="cli",
                requested_by=assembly.env.identity,
                lock_cluster=ctx.settings.leader.cluster,
            )
            ctx.stderr.write(f"rotation {record.id}: {policy.name}\n")
            if args.detach:
                return ExitCode.OK
            final = assembly.engine.execute(record.id)
            if not final.phase.terminal:
                ctx.stderr.write(f"rotation {record.id} is {final.phase.value}: see drd runbook show {record.id}\n")
                return ExitCode.FAILED
            final = finish_rotation(store, record.id, notifier=assembly.env.notifier)
        finally:
            assembly.close()
        result = rotation_result(final, store.steps(final.id))
    ctx.render({"run": final.id, "policy": policy.name, "result": result, "phase": final.phase.value})
    return ExitCode.OK if result == "succeeded" else ExitCode.FAILED


def status(ctx: CliContext, args: argparse.Namespace) -> int:
    config = load_config([ctx.settings.config.directory])
    policies = config.of_kind(RotationPolicy)
    names = [args.policy] if args.policy else sorted(policies)
    if args.policy and args.policy not in policies:
        known = ", ".join(sorted(policies)) or "none"
        raise ConfigError(f'no RotationPolicy "{args.policy}" in {ctx.settings.config.directory} (known: {known})')
    with open_store(ctx.settings.store.url) as store:
        rows = [_row(store, policies[name], now=datetime.now().astimezone()) for name in names]
    if ctx.output == "table":
        output.render_table(rows, COLUMNS, ctx.stdout)
    else:
        ctx.render({"rotations": rows})
    return ExitCode.OK


def _row(store: Store, policy: RotationPolicy, *, now: datetime) -> dict[str, Any]:
    runs = store.list_runs(kind=KIND, subject=policy.name, limit=50)
    last = runs[0] if runs else None
    succeeded = next((r for r in runs if r.phase is Phase.COMPLETED and r.finished_at), None)
    rotated = succeeded.finished_at if succeeded else None
    return {
        "POLICY": policy.name,
        "LAST RUN": last.id if last else "-",
        "RESULT": (rotation_result(last, store.steps(last.id)) if last.phase.terminal else last.phase.value)
        if last
        else "-",
        "ROTATED": f"{rotated:%Y-%m-%d %H:%M:%S}" if rotated else "never",
        "AGE": format_duration(timedelta(seconds=int((now - rotated).total_seconds()))) if rotated else "-",
        "MAX AGE": format_duration(policy.spec.max_age) if policy.spec.max_age else "-",
    }
