"""The Schedule controller (velero.md §1.3): cron → timestamped Backups, no catch-up, skip while one runs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from drd.clients.errors import KubeAlreadyExists
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_SCHEDULES
from drd.sandbox.velero.context import SimContext
from drd.velero.timefmt import parse_go_duration, parse_rfc3339, rfc3339
from drd.velero.vocabulary import API_VERSION, LABEL_SCHEDULE_NAME, BackupPhase


def next_after(expression: str, moment: datetime) -> datetime:
    """robfig/cron ParseStandard semantics: 5 fields, macros, ``@every <duration>``, ``CRON_TZ=`` prefix.

    Raises ValueError with Velero's wording for an empty or invalid expression.
    """
    text = expression.strip()
    if not text:
        raise ValueError("Schedule must be a non-empty valid Cron expression")
    zone = None
    if text.startswith(("CRON_TZ=", "TZ=")):
        spec_tz, _, text = text.partition(" ")
        try:
            zone = ZoneInfo(spec_tz.split("=", 1)[1])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"invalid schedule: provided bad location {spec_tz}: {exc}") from exc
    if text.startswith("@every "):
        return moment + timedelta(seconds=parse_go_duration(text.removeprefix("@every ")))
    if not croniter.is_valid(text) or len(text.split()) not in (1, 5):
        raise ValueError(f"invalid schedule: expected exactly 5 fields, found {len(text.split())}: [{text}]")
    start = moment.astimezone(zone) if zone else moment
    result: datetime = croniter(text, start).get_next(datetime)
    return result


def reconcile_schedules(ctx: SimContext) -> None:
    """Validate every Schedule and submit a Backup for each one that is due."""
    now = ctx.clock.now()
    for schedule in ctx.objects(VELERO_SCHEDULES):
        _reconcile(ctx, schedule, now)


def _reconcile(ctx: SimContext, schedule: Mapping[str, Any], now: datetime) -> None:
    name = schedule["metadata"]["name"]
    spec = schedule.get("spec") or {}
    status = schedule.get("status") or {}
    try:
        anchor = max(
            t
            for t in (
                parse_rfc3339(status.get("lastBackup")) or parse_rfc3339(schedule["metadata"].get("creationTimestamp")),
                parse_rfc3339(status.get("lastSkipped")),
            )
            if t is not None
        )
        due = next_after(str(spec.get("schedule") or ""), anchor)
    except ValueError as exc:
        if status.get("phase") != "FailedValidation":
            ctx.patch(VELERO_SCHEDULES, name, {"status": {"phase": "FailedValidation", "validationErrors": [str(exc)]}})
        return
    if status.get("phase") != "Enabled":
        ctx.patch(VELERO_SCHEDULES, name, {"status": {"phase": "Enabled", "validationErrors": None}})
    if spec.get("paused") or due >= now:
        return
    running = ctx.objects(VELERO_BACKUPS, label_selector=f"{LABEL_SCHEDULE_NAME}={name}")
    if any((b.get("status") or {}).get("phase", "") in BackupPhase.RUNNING for b in running):
        return
    template = dict(spec.get("template") or {})
    template_metadata = template.pop("metadata", None) or {}
    labels = dict(template_metadata.get("labels") or schedule["metadata"].get("labels") or {})
    labels[LABEL_SCHEDULE_NAME] = name
    metadata: dict[str, Any] = {
        "name": f"{name}-{now.strftime('%Y%m%d%H%M%S')}",
        "labels": labels,
        "annotations": dict(schedule["metadata"].get("annotations") or {}),
    }
    if spec.get("useOwnerReferencesInBackup"):
        metadata["ownerReferences"] = [
            {
                "apiVersion": API_VERSION,
                "kind": "Schedule",
                "name": name,
                "uid": schedule["metadata"]["uid"],
                "controller": True,
            }
        ]
    backup = {"apiVersion": API_VERSION, "kind": "Backup", "metadata": metadata, "spec": template}
    try:
        ctx.kube.create(VELERO_BACKUPS, backup, namespace=ctx.namespace)
    except KubeAlreadyExists:
        return
    ctx.patch(VELERO_SCHEDULES, name, {"status": {"lastBackup": rfc3339(now)}})
