"""The handlers behind ``drd runbook …`` (imported only when such a command runs)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drd.cli import output
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode
from drd.errors import ConfigError, PolicyError
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.rotation.steps import rotation_actions
from drd.runbooks.assembly import Assembly, assemble, local_identity
from drd.runbooks.engine.planner import plan
from drd.runbooks.engine.runner import KIND, secret_parameters
from drd.runbooks.spec.loader import load_runbooks
from drd.runbooks.spec.models import Runbook
from drd.store import Store, open_store
from drd.store.errors import NotFound
from drd.store.records import RunRecord
from drd.upgrades.steps import upgrade_actions

STEP_COLUMNS = ("#", "STEP", "TYPE", "PHASE", "ATTEMPTS", "DURATION", "DETAIL")
RUN_COLUMNS = ("RUN", "RUNBOOK", "PHASE", "STATE", "TRIGGER", "BY", "CREATED")


def list_runbooks(ctx: CliContext, args: argparse.Namespace) -> int:
    runbooks = _runbooks(ctx, args)
    rows = [
        {
            "NAME": r.name,
            "STEPS": len(r.spec.steps),
            "PARAMETERS": ", ".join(r.spec.parameters),
            "DESCRIPTION": (r.spec.description or "").strip().splitlines()[0] if r.spec.description else "",
        }
        for r in runbooks.values()
    ]
    if ctx.output == "table":
        output.render_table(rows, ("NAME", "STEPS", "PARAMETERS", "DESCRIPTION"), ctx.stdout)
    else:
        ctx.render({"runbooks": rows})
    return ExitCode.OK


def lint(ctx: CliContext, args: argparse.Namespace) -> int:
    paths = list(args.paths) or [_directory(ctx, args)]
    try:
        found = load_runbooks(paths)
    except PolicyError as exc:
        output.render_problems(ctx, exc.problems, paths)
        return ExitCode.USAGE
    if ctx.output == "table":
        ctx.stdout.write(f"{', '.join(paths)}: valid ({len(found.runbooks)} runbooks)\n")
    else:
        ctx.render({"valid": True, "runbooks": sorted(found.runbooks)})
    return ExitCode.OK


def show(ctx: CliContext, args: argparse.Namespace) -> int:
    runbooks = _runbooks(ctx, args)
    if args.name in runbooks:
        return _show_runbook(ctx, runbooks[args.name])
    with open_store(ctx.settings.store.url) as store:
        try:
            run = store.get_run(args.name)
        except NotFound:
            known = ", ".join(sorted(runbooks)) or "none"
            raise ConfigError(f"{args.name!r} is neither a runbook ({known}) nor a run id") from None
        _show_run(ctx, store, run)
    return ExitCode.OK


def run(ctx: CliContext, args: argparse.Namespace) -> int:
    runbook = _runbook(ctx, args, args.name)
    given = _given(args.params)
    with _engine(ctx) as (assembly, store):
        if args.dry_run:
            result = plan(runbook, given, env=assembly.env, actions=assembly.engine.actions, locks=assembly.locks)
            _print_plan(ctx, result.to_json())
            return ExitCode.OK
        record = assembly.engine.submit(runbook, given, trigger="cli", requested_by=assembly.env.identity)
        ctx.stderr.write(f"run {record.id}: {runbook.name} submitted\n")
        if args.detach:
            _print_run(ctx, store, record)
            return ExitCode.OK
        secrets = {k: v for k, v in given.items() if k in secret_parameters(runbook)}
        final = assembly.engine.execute(record.id, secrets=secrets)
        return _report(ctx, store, final)


def resume(ctx: CliContext, args: argparse.Namespace) -> int:
    with _engine(ctx) as (assembly, store):
        assembly.engine.resume(
            args.run_id, actor=local_identity(), mark_succeeded=args.mark_succeeded, skip=args.skip, reason=args.reason
        )
        final = assembly.engine.execute(args.run_id, secrets=_given(args.params))
        return _report(ctx, store, final)


def cancel(ctx: CliContext, args: argparse.Namespace) -> int:
    with _engine(ctx) as (assembly, store):
        assembly.engine.cancel(args.run_id, actor=local_identity(), reason=args.reason, compensate=args.compensate)
        final = assembly.engine.execute(args.run_id)
        _print_run(ctx, store, final)
        return ExitCode.OK if final.phase.terminal else ExitCode.FAILED


def approve(ctx: CliContext, args: argparse.Namespace) -> int:
    return _decide(ctx, args, approve=True)


def reject(ctx: CliContext, args: argparse.Namespace) -> int:
    return _decide(ctx, args, approve=False)


def runs(ctx: CliContext, args: argparse.Namespace) -> int:
    with open_store(ctx.settings.store.url) as store:
        records = store.list_runs(kind=KIND, subject=args.runbook, limit=args.limit)
    rows = [_run_row(r) for r in records]
    if ctx.output == "table":
        output.render_table(rows, RUN_COLUMNS, ctx.stdout)
    else:
        ctx.render({"runs": [_run_json(r) for r in records]})
    return ExitCode.OK


# -- helpers ------------------------------------------------------------------------------------


def _decide(ctx: CliContext, args: argparse.Namespace, *, approve: bool) -> int:
    with _engine(ctx) as (assembly, store):
        assembly.engine.approve(args.run_id, args.step, actor=local_identity(), comment=args.comment, approve=approve)
        ctx.stderr.write(f"run {args.run_id}: step {args.step} {'approved' if approve else 'rejected'}\n")
        if args.no_continue:
            return ExitCode.OK
        final = assembly.engine.execute(args.run_id)
        return _report(ctx, store, final)


def _report(ctx: CliContext, store: Store, record: RunRecord) -> int:
    _print_run(ctx, store, record)
    if record.phase is Phase.WAITING:
        waiting = record.details.get("waiting") or {}
        reason, step = waiting.get("reason"), waiting.get("step")
        if reason == "approval":
            ctx.stderr.write(
                f"waiting for approval of step {step}: drd runbook approve {record.id} {step} --comment '…'\n"
            )
        elif reason in ("paused", "in-doubt"):
            ctx.stderr.write(f"run paused ({reason}) at step {step}: inspect it, then drd runbook resume {record.id}\n")
        return ExitCode.OK
    return ExitCode.OK if record.phase is Phase.COMPLETED else ExitCode.FAILED


def _print_run(ctx: CliContext, store: Store, record: RunRecord) -> None:
    _show_run(ctx, store, store.get_run(record.id))


def _show_run(ctx: CliContext, store: Store, record: RunRecord) -> None:
    steps = store.steps(record.id)
    events = store.events(record.id)
    if ctx.output != "table":
        ctx.render(
            {
                **_run_json(record),
                "steps": [
                    {
                        "step": s.name,
                        "type": s.type,
                        "ordinal": s.ordinal,
                        "attempt": s.attempt,
                        "phase": s.phase.value,
                        "inputs": s.inputs,
                        "outputs": s.outputs,
                        "error": s.error_message,
                        "errorClass": s.error_class,
                        "startedAt": s.started_at.isoformat(),
                        "finishedAt": s.finished_at.isoformat() if s.finished_at else None,
                    }
                    for s in steps
                ],
                "audit": [{"at": e.at.isoformat(), "actor": e.actor, "event": e.event, "data": e.data} for e in events],
            }
        )
        return
    details = record.details
    ctx.stdout.write(
        f"run {record.id}  runbook {details.get('runbook')}  phase {record.phase.value}"
        f"  target {(details.get('target') or {}).get('cluster', '-')}/"
        f"{(details.get('target') or {}).get('namespace') or '*'}\n"
    )
    latest: dict[int, Any] = {}
    attempts: dict[int, int] = {}
    for s in steps:
        latest[s.ordinal] = s
        attempts[s.ordinal] = attempts.get(s.ordinal, 0) + 1
    rows = []
    for ordinal, s in sorted(latest.items()):
        duration = (s.finished_at - s.started_at).total_seconds() if s.finished_at else None
        rows.append(
            {
                "#": ordinal,
                "STEP": s.name,
                "TYPE": s.type,
                "PHASE": s.phase.value,
                "ATTEMPTS": attempts[ordinal],
                "DURATION": f"{duration:.1f}s" if duration is not None else "-",
                "DETAIL": s.error_message or _brief(s.outputs),
            }
        )
    output.render_table(rows, STEP_COLUMNS, ctx.stdout)
    if details.get("outputs"):
        ctx.stdout.write("outputs: " + ", ".join(f"{k}={v}" for k, v in details["outputs"].items()) + "\n")
    for e in events:
        if e.event in ("approved", "rejected", "resumed", "skipped", "marked-succeeded", "submitted"):
            comment = e.data.get("comment") or e.data.get("reason") or ""
            ctx.stdout.write(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.actor}  {e.event} {e.data.get('step') or ''} {comment}\n")


def _show_runbook(ctx: CliContext, runbook: Runbook) -> int:
    from drd.runbooks.spec import catalog

    spec = runbook.spec
    if ctx.output != "table":
        ctx.render(runbook.model_dump(mode="json", by_alias=True, exclude_none=True))
        return ExitCode.OK
    ctx.stdout.write(f"{runbook.name}  (digest {_short(runbook.digest)})\n")
    if spec.description:
        ctx.stdout.write(spec.description.strip() + "\n")
    ctx.stdout.write("\nparameters:\n")
    for name, parameter in spec.parameters.items():
        default = "" if parameter.default is None else f" (default {parameter.default})"
        required = " required" if parameter.required else ""
        ctx.stdout.write(f"  {name}: {parameter.type}{required}{default}  {parameter.description or ''}\n")
    rows = [
        {"STEP": s.id, "TYPE": s.type, "DRY RUN": catalog.step_type(s.type).dry_run, "WHEN": s.when or ""}
        for s in (*spec.steps, *spec.finally_)
    ]
    ctx.stdout.write("\n")
    output.render_table(rows, ("STEP", "TYPE", "DRY RUN", "WHEN"), ctx.stdout)
    return ExitCode.OK


def _print_plan(ctx: CliContext, document: dict[str, Any]) -> None:
    if ctx.output != "table":
        ctx.render({"dryRun": True, **document})
        return
    ctx.stdout.write(
        f"{document['runbook']} (digest {_short(document['digest'])})  target {document['target'] or '-'}"
        f"  lock: {document['lock'] or '-'}  mode: dry run (nothing will change)\n"
    )
    rows = []
    for index, step in enumerate(document["steps"], start=1):
        changes = "; ".join(step["changes"])
        rows.append(
            {
                "#": "F" if step["finally"] else index,
                "STEP": step["id"],
                "TYPE": step["type"],
                "FIDELITY": step["fidelity"],
                "WOULD DO": step["summary"] + (f" [{changes}]" if changes else ""),
            }
        )
    output.render_table(rows, ("#", "STEP", "TYPE", "FIDELITY", "WOULD DO"), ctx.stdout)


def _run_row(record: RunRecord) -> dict[str, Any]:
    return {
        "RUN": record.id,
        "RUNBOOK": record.subject,
        "PHASE": record.phase.value,
        "STATE": _state(record),
        "TRIGGER": record.trigger,
        "BY": record.requested_by or "-",
        "CREATED": f"{record.created_at:%Y-%m-%d %H:%M:%S}",
    }


def _run_json(record: RunRecord) -> dict[str, Any]:
    details = record.details
    return {
        "run": record.id,
        "runbook": record.subject,
        "phase": record.phase.value,
        "state": _state(record),
        "trigger": record.trigger,
        "requestedBy": record.requested_by,
        "parameters": record.parameters,
        "target": details.get("target"),
        "waiting": details.get("waiting"),
        "failure": details.get("failure"),
        "outputs": details.get("outputs"),
        "digest": details.get("digest"),
        "createdAt": record.created_at.isoformat(),
        "finishedAt": record.finished_at.isoformat() if record.finished_at else None,
    }


def _state(record: RunRecord) -> str:
    waiting = record.details.get("waiting") or {}
    if waiting:
        return f"{waiting.get('reason')} at {waiting.get('step')}" if waiting.get("step") else str(waiting["reason"])
    return str(record.details.get("state", ""))


def _short(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits, as a digest is shown."""
    algorithm, _, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if hexdigits else digest[:12]


def _brief(outputs: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in outputs.items() if isinstance(v, str | int | float | bool)]
    text = " ".join(parts)
    return text if len(text) <= 60 else text[:57] + "..."


def _given(pairs: list[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ConfigError(f"-p {pair!r}: expected NAME=VALUE")
        given[name.strip()] = value
    return given


def _directory(ctx: CliContext, args: argparse.Namespace) -> str:
    return getattr(args, "runbooks", None) or ctx.settings.config.runbooks


def _runbooks(ctx: CliContext, args: argparse.Namespace) -> dict[str, Runbook]:
    return dict(load_runbooks([_directory(ctx, args)]).runbooks)


def _runbook(ctx: CliContext, args: argparse.Namespace, name: str) -> Runbook:
    runbooks = _runbooks(ctx, args)
    if name not in runbooks:
        known = ", ".join(sorted(runbooks)) or "none"
        raise ConfigError(f"no runbook {name!r} in {_directory(ctx, args)} (known: {known})")
    return runbooks[name]


@contextmanager
def _engine(ctx: CliContext) -> Iterator[tuple[Assembly, Store]]:
    config = load_config([ctx.settings.config.directory])
    with open_store(ctx.settings.store.url) as store:
        assembly = assemble(ctx.settings, config, store, extra_actions={**upgrade_actions(), **rotation_actions()})
        try:
            yield assembly, store
        finally:
            assembly.close()
