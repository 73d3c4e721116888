"""The handler behind ``drd restore APP`` (imported only when it runs).

Plan → confirmation → submit → execute with live progress → evidence. The
engine executes the run in a worker thread while this thread shows progress
(a redrawn line in a terminal, a line per change otherwise) from the Velero
Restore's ``status.progress`` and the run's steps in the store. Ctrl-C
detaches: the worker is left to die with the process, the run stays durable
(InProgress, its Restore Velero's), and the daemon — or ``drd runbook
resume RUN`` — carries it on.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

from drd.cli import restore_view
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode
from drd.clients.errors import KubeError
from drd.clients.kube_resources import VELERO_RESTORES
from drd.daemon.restores import finish_restore
from drd.errors import ConfigError, TemporaryError
from drd.policy.durations import parse_duration
from drd.policy.loader import Config, load_config
from drd.policy.models.backup import BackupPolicy
from drd.restore import run as restoring
from drd.restore.plan import Request
from drd.runbooks.assembly import Assembly, assemble
from drd.store import Store, open_store
from drd.store.records import RunRecord

POLL_SECONDS = 0.25
EXECUTE_ATTEMPTS = 5
"""Tries to start executing (taking the target's lock) while the target's API fails temporarily."""
DRILL_HISTORY = 10


def restore(ctx: CliContext, args: argparse.Namespace) -> int:
    config = load_config([ctx.settings.config.directory])
    policy = restoring.application_policy(config, args.application)
    request = _request(args, policy)
    with open_store(ctx.settings.store.url) as store:
        session = _Session(ctx, args, config, request, store, assemble(ctx.settings, config, store))
        try:
            return session.run(policy)
        except KeyboardInterrupt:
            return session.interrupted()
        finally:
            if session.record is None or not session.detached:
                session.assembly.close()  # a detached worker may still use the connections until the process ends


class _Session:
    """One ``drd restore``: plan, confirmation, run, outcome."""

    def __init__(  # noqa: PLR0917 - what one command holds
        self,
        ctx: CliContext,
        args: argparse.Namespace,
        config: Config,
        request: Request,
        store: Store,
        assembly: Assembly,
    ) -> None:
        self.ctx, self.args, self.config, self.request = ctx, args, config, request
        self.store, self.assembly = store, assembly
        self.record: RunRecord | None = None
        self.detached = False

    def run(self, policy: BackupPolicy) -> int:
        ctx = self.ctx
        prepared = restoring.prepare(
            self.assembly.env, self.config, self.request, drill_seconds=_drill_seconds(self.store, self.config, policy)
        )
        plan = prepared.plan
        if ctx.output == "table":
            restore_view.render_plan(plan, ctx.stdout)
            ctx.stdout.flush()
        stop = self._gate(prepared)
        if stop is not None:
            return stop
        self.record = restoring.start_restore(
            self.assembly.engine, prepared, trigger="cli", requested_by=self.assembly.env.identity
        )
        record = self.record
        self.store.update_run(record.id, details={**record.details, "plan": plan})
        where = ", ".join(f"{self.request.target_cluster}/{ns['target']}" for ns in plan["namespaces"])
        _say(ctx, f"restore {record.id}: backup {prepared.backup} into {where}")
        final = _execute(ctx, self.assembly, self.store, record, prepared)
        if not final.phase.terminal:
            _say(ctx, f"restore {record.id} is {final.phase.value}: see `drd runbook show {record.id}`")
            return ExitCode.FAILED
        evidence = finish_restore(self.store, record.id, config=self.config)
        if ctx.output == "table":
            restore_view.render_outcome(evidence, ctx.stdout)
        else:
            ctx.render({"plan": plan, "outcome": evidence})
        return ExitCode.OK if evidence["result"] == "succeeded" else ExitCode.FAILED

    def _gate(self, prepared: restoring.Prepared) -> int | None:
        """An exit code when the restore stops here (refused, dry run, not confirmed); None to go on."""
        ctx, plan = self.ctx, prepared.plan
        if prepared.refusal:
            return _refused(ctx, plan, prepared.refusal)
        if self.args.dry_run:
            _say(ctx, "dry run: nothing was changed")
            if ctx.output != "table":
                ctx.render({"dryRun": True, "plan": plan})
            return ExitCode.OK
        if not self.args.yes and not _confirmed(ctx, plan):
            return _refused(ctx, plan, "not confirmed: nothing was restored", show=False)
        return None

    def interrupted(self) -> int:
        """Ctrl-C: before the run exists nothing happened; after, the run goes on without us."""
        if self.record is None:
            _say(self.ctx, "\ninterrupted: nothing was restored")
            return ExitCode.INTERRUPTED
        self.detached = True
        run_id = self.record.id
        _say(
            self.ctx,
            f"\ndetached: restore {run_id} goes on (its Velero Restore runs in {self.request.target_cluster}); "
            f"follow it with `drd runbook show {run_id}`. The daemon carries the run on; without one, "
            f"`drd runbook resume {run_id}` does.",
        )
        return ExitCode.INTERRUPTED


# -- the request ----------------------------------------------------------------------------------


def _request(args: argparse.Namespace, policy: BackupPolicy) -> Request:
    return Request(
        application=policy.name,
        target_cluster=args.to or policy.spec.cluster,
        source_cluster=policy.spec.cluster,
        backup=args.backup,
        before=parse_time(args.before, now=datetime.now(UTC)) if args.before else None,
        namespaces=tuple(args.namespaces),
        as_namespace=args.as_namespace,
        include_resources=tuple(args.include_resources),
        exclude_resources=tuple(args.exclude_resources),
        existing=args.existing,
        replace=args.replace,
        yes=args.yes,
        live_namespace_ok=args.live_namespace_ok,
    )


def parse_time(text: str, *, now: datetime) -> datetime:
    """RFC 3339 / ISO 8601 (a time without zone is UTC), or a duration meaning that long ago (``90m``)."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return now - parse_duration(value)
        except (ValueError, TypeError):
            raise ConfigError(
                f"--before {text!r}: expected a time such as 2026-03-01T03:00:00Z or '2026-03-01 03:00' (UTC), "
                "or a duration ago such as 90m or 2h"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _drill_seconds(store: Store, config: Config, policy: BackupPolicy) -> dict[str, list[float]]:
    """Restore and verify phase durations of the application's past drills (newest first)."""
    found: dict[str, list[float]] = {"restore": [], "verify": []}
    for drill in config.drills_of(policy):
        for run in store.list_runs(kind="drill", subject=drill.name, limit=DRILL_HISTORY):
            phases = ((run.details.get("evidence") or {}).get("measurements") or {}).get("phases") or {}
            for name, values in found.items():
                if isinstance(phases.get(name), int | float):
                    values.append(float(phases[name]))
    return found


# -- talking to the person ------------------------------------------------------------------------


def _say(ctx: CliContext, line: str) -> None:
    ctx.stderr.write(line + "\n")
    ctx.stderr.flush()


def _refused(ctx: CliContext, plan: dict[str, Any], reason: str, *, show: bool = True) -> int:
    if show:
        _say(ctx, f"refused: {reason}")
    else:
        _say(ctx, reason)
    if ctx.output != "table":
        ctx.render({"plan": plan, "refused": reason})
    return ExitCode.FAILED


def _ask(ctx: CliContext, prompt: str) -> str:
    ctx.stderr.write(prompt)
    ctx.stderr.flush()
    answer = sys.stdin.readline()
    if not answer:  # end of input: no answer is no
        ctx.stderr.write("\n")
        return ""
    return answer.strip()


def _confirmed(ctx: CliContext, plan: dict[str, Any]) -> bool:
    live = plan["guard"]["liveNamespaces"]
    if not live:
        return _ask(ctx, restore_view.confirmation_prompt(plan)).lower() in ("y", "yes")
    cluster = plan["target"]["cluster"]
    for namespace in live:
        _say(ctx, f"Namespace {namespace} in {cluster} has live workloads; the restore changes what runs there.")
        if _ask(ctx, f"Type the namespace name ({namespace}) to restore into it: ") != namespace:
            _say(ctx, f"that is not {namespace}")
            return False
    return True


# -- executing with progress ----------------------------------------------------------------------


def _execute(
    ctx: CliContext, assembly: Assembly, store: Store, record: RunRecord, prepared: restoring.Prepared
) -> RunRecord:
    outcome: dict[str, Any] = {}

    def work() -> None:
        for attempt in range(EXECUTE_ATTEMPTS):
            try:
                outcome["record"] = assembly.engine.execute(record.id)
            except TemporaryError as exc:  # the target's API failing while the lock is taken: try again
                outcome["error"] = exc
                time.sleep(min(5.0, 0.5 * 2**attempt))
            except BaseException as exc:  # surfaced in the main thread
                outcome["error"] = exc
                return
            else:
                return

    worker = threading.Thread(target=work, name=f"restore-{record.id}", daemon=True)
    started = time.monotonic()
    worker.start()
    progress = _Progress(
        ctx.stderr, tty=ctx.stderr.isatty(), rto=(prepared.plan.get("estimate") or {}).get("rtoSeconds")
    )
    kube = assembly.env.kube(prepared.request.target_cluster)
    namespace = assembly.env.velero_namespace(prepared.request.target_cluster)
    name = restoring.restore_name(record.id)
    while worker.is_alive():
        worker.join(POLL_SECONDS)
        progress.show(_snapshot(kube, store, record.id, name, namespace), time.monotonic() - started)
    progress.done()
    if "record" not in outcome:
        raise outcome["error"]
    final: RunRecord = outcome["record"]
    return final


def _snapshot(kube: Any, store: Store, run_id: str, name: str, namespace: str) -> restore_view.Snapshot:
    snapshot = restore_view.Snapshot()
    running = [s for s in store.steps(run_id) if s.finished_at is None]
    snapshot.step = running[-1].name if running else None
    try:
        found = kube.find(VELERO_RESTORES, name, namespace=namespace)
    except KubeError:
        return snapshot  # the API flaps; the next poll will tell
    if found is not None:
        status = found.get("status") or {}
        progress = status.get("progress") or {}
        snapshot.phase = str(status.get("phase") or "New")
        snapshot.restored = int(progress.get("itemsRestored") or 0)
        snapshot.total = int(progress.get("totalItems") or 0)
    return snapshot


class _Progress:
    """A redrawn status line in a terminal; a line per change (step, phase, tenth of the items) otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool, rto: float | None) -> None:
        self.stream = stream
        self.tty = tty
        self.rto = rto
        self._last: tuple[Any, ...] | None = None

    def show(self, snapshot: restore_view.Snapshot, elapsed: float) -> None:
        line = restore_view.progress_line(snapshot, elapsed=elapsed, rto=self.rto)
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            return
        tenth = snapshot.restored * 10 // snapshot.total if snapshot.total else 0
        key = (snapshot.step, snapshot.phase, tenth)
        if key != self._last:
            self._last = key
            self.stream.write(line + "\n")
            self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
