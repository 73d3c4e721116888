"""How ``drd restore`` looks: the plan, the live progress line, the outcome. Text only; no I/O beyond ``write``.

Written for a person under stress: the decisive facts first (which backup, how
old, into where, what happens to live objects), numbers with units, one line
per fact, the refusal or the next command spelt out. Objects are listed in a
``kubectl get``-style table; at most :data:`SHOWN_OBJECTS` of them, the rest
counted (``-o json`` has them all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from drd.cli import output

SHOWN_OBJECTS = 40
BAR = 20
STEP_WORDS = {
    "check-backup": "checking the backup",
    "clear-namespace": "deleting the namespace",
    "restore": "restoring",
    "verify": "verifying",
}


def duration(seconds: float | None) -> str:
    """``45s``, ``3m05s``, ``2h10m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def render_plan(plan: Mapping[str, Any], stream: TextIO) -> None:
    """The plan as a person reads it."""
    source, target = plan["source"], plan["target"]
    w = stream.write
    w(f"Restore plan for {plan['application']}\n")
    backup = plan.get("backup")
    if backup:
        extras = [backup["phase"]]
        if backup.get("ageSeconds") is not None:
            extras.append(f"taken {duration(backup['ageSeconds'])} ago at {backup['startedAt']}")
        if backup.get("expiresInSeconds") is not None:
            extras.append(f"expires in {duration(backup['expiresInSeconds'])}")
        if backup.get("warnings") or backup.get("errors"):
            extras.append(f"{backup['warnings']} warning(s), {backup['errors']} error(s)")
        w(f"  backup      {backup['name']}  ({', '.join(extras)})\n")
    w(f"  from        {_where(source)}: the application's cluster\n")
    same = " (the same cluster)" if target["cluster"] == source["cluster"] else ""
    w(f"  into        {_where(target)}{same}\n")
    for ns in plan.get("namespaces") or []:
        state = "new namespace" if not ns["exists"] else "exists"
        if ns["terminating"]:
            state = "BEING DELETED"
        elif ns["liveWorkloads"]:
            shown = ", ".join(ns["liveWorkloads"][:4]) + (", …" if len(ns["liveWorkloads"]) > 4 else "")
            state = f"LIVE: {len(ns['liveWorkloads'])} workload(s) running ({shown})"
        w(f"  namespace   {ns['source']} → {ns['target']}  [{state}]\n")
    _render_scope(plan, stream)


def _render_scope(plan: Mapping[str, Any], stream: TextIO) -> None:
    w = stream.write
    w(f"  existing    {_existing(plan['existing'])}\n")
    if plan.get("includeResources") or plan.get("excludeResources"):
        only = ", ".join(plan.get("includeResources") or []) or "all"
        w(
            f"  resources   {only}"
            + (f", except {', '.join(plan['excludeResources'])}" if plan.get("excludeResources") else "")
            + "\n"
        )
    summary = plan.get("summary") or {}
    if summary:
        parts = [f"{summary[k]} {k}" for k in ("create", "skip", "update", "replace", "keep") if summary.get(k)]
        w(f"  objects     {summary['total']}: {', '.join(parts) or 'nothing to do'}\n")
    estimate = plan.get("estimate")
    if estimate is not None:
        rto = f"; RTO objective {duration(estimate['rtoSeconds'])}" if estimate.get("rtoSeconds") else ""
        if estimate.get("seconds") is not None:
            w(f"  estimate    ~{duration(estimate['seconds'])} (median of {estimate['drills']} drill(s)){rto}\n")
        else:
            w(f"  estimate    unknown (no drill of this application has run yet){rto}\n")
    for warning in plan.get("warnings") or []:
        w(f"  WARNING     {warning}\n")
    _render_objects(plan, stream)


def _render_objects(plan: Mapping[str, Any], stream: TextIO) -> None:
    w = stream.write
    summary = plan.get("summary") or {}
    objects = plan.get("objects") or []
    if objects:
        w("\n")
        rows = [
            {
                "ACTION": o["action"],
                "KIND": o["kind"],
                "NAMESPACE": o["namespace"] or "-",
                "NAME": o["name"],
                "IN TARGET": "exists" if o["exists"] else "-",
            }
            for o in sorted(objects, key=_order)[:SHOWN_OBJECTS]
        ]
        output.render_table(rows, ("ACTION", "KIND", "NAMESPACE", "NAME", "IN TARGET"), stream)
        hidden = summary.get("total", len(objects)) - len(rows)
        if hidden > 0:
            w(f"… and {hidden} more (-o json lists them all)\n")


def _order(row: Mapping[str, Any]) -> tuple[int, str, str, str]:
    rank = {"replace": 0, "update": 1, "skip": 2, "keep": 3, "create": 4}
    return (rank.get(row["action"], 9), row["kind"], row["namespace"], row["name"])


def _where(cluster: Mapping[str, Any]) -> str:
    extra = ", ".join(str(cluster[k]) for k in ("region", "role") if cluster.get(k))
    return f"{cluster['cluster']}" + (f" ({extra})" if extra else "")


def _existing(mode: str) -> str:
    return {
        "skip": "skip: objects that exist are left as they are",
        "update": "update: objects that exist are updated to the backed-up version",
        "replace": "replace: the namespace is deleted first, then restored exactly as backed up",
    }.get(mode, mode)


def confirmation_prompt(plan: Mapping[str, Any]) -> str:
    """The y/N question for a plan without live namespaces."""
    total = (plan.get("summary") or {}).get("total", 0)
    into = ", ".join(f"{plan['target']['cluster']}/{ns['target']}" for ns in plan.get("namespaces") or [])
    return f"Restore {total} object(s) of {plan['application']} into {into}? [y/N] "


@dataclass
class Snapshot:
    """Where a running restore is, as the progress line shows it."""

    step: str | None = None
    phase: str = ""
    restored: int = 0
    total: int = 0


def progress_line(snapshot: Snapshot, *, elapsed: float, rto: float | None, width: int = BAR) -> str:
    """``restoring  InProgress  [#####.....]  14/24 items  0:07 elapsed / RTO 2m00s``."""
    idle = "finishing" if snapshot.phase else "starting"
    what = STEP_WORDS.get(snapshot.step or "", snapshot.step or idle)
    parts = [f"{what:<22}"]
    if snapshot.step == "restore" or snapshot.total:
        parts.append(f"{snapshot.phase or 'New':<12}")
        if snapshot.total:
            done = int(width * snapshot.restored / snapshot.total)
            parts.append(f"[{'#' * done}{'.' * (width - done)}] {snapshot.restored}/{snapshot.total} items")
    clock = f"{duration(elapsed)} elapsed"
    if rto:
        over = " (OVER)" if elapsed > rto else ""
        clock += f" / RTO {duration(rto)}{over}"
    parts.append(clock)
    return "  ".join(parts)


def render_outcome(evidence: Mapping[str, Any], stream: TextIO) -> None:
    """The outcome: result, what was restored, what failed and why, what verification found."""
    w = stream.write
    restore = evidence["restore"]
    verdict = {"succeeded": "RESTORED AND VERIFIED", "partially_failed": "RESTORED WITH PROBLEMS"}.get(
        evidence["result"], "FAILED"
    )
    where = ", ".join(f"{evidence['target']['cluster']}/{ns['target']}" for ns in evidence["namespaces"])
    w(f"\n{verdict}: {evidence['application']} into {where} (run {evidence['run']})\n")
    backup = (evidence.get("backup") or {}).get("name")
    items = restore.get("itemsRestored")
    w(f"  restore     {restore.get('name') or '-'}  {restore.get('phase') or '-'}"
      f"{f', {items} item(s)' if items is not None else ''}  from backup {backup}\n")  # fmt: skip
    m = evidence["measurements"]
    objective = evidence["objective"]
    took = f"  took        restore {duration(m['restoreSeconds'])}, verify {duration(m['verifySeconds'])}"
    if m.get("totalSeconds") is not None and objective.get("rtoSeconds"):
        took += f"; {duration(m['totalSeconds'])} against an RTO of {duration(objective['rtoSeconds'])}"
        took += "" if objective["met"] else " (MISSED)"
    w(took + "\n")
    if restore.get("failure"):
        w(f"  failure     {restore['failure']}\n")
    elif (evidence.get("failure") or {}).get("message"):
        w(f"  failure     {evidence['failure']['message']}\n")
    for item in evidence.get("failedObjects") or []:
        w(f"  FAILED      {item}\n")
    for message in evidence.get("restoreErrors") or []:
        w(f"  ERROR       {message}\n")
    skipped = evidence.get("skippedExisting") or []
    if skipped:
        w(f"  skipped     {len(skipped)} existing object(s) left as they were (they differ from the backup)\n")
    verification = evidence["verification"]
    for check in verification.get("checks") or []:
        mark = "ok  " if check["passed"] else "FAIL"
        w(f"  {mark}        {check['name']}: {check['detail']}\n")
    missing = (verification.get("objects") or {}).get("missing") or []
    for item in missing[:10]:
        w(f"  MISSING     {item}\n")
    w(f"  evidence    drd runbook show {evidence['run']}\n")
