"""Which backups to keep and which to prune (pure), with restic/borg ``forget`` semantics.

Velero expires each backup after one ``ttl``; a policy's ``retention`` prunes
earlier with count rules, evaluated over its *good* backups (Completed, and
PartiallyFailed when the policy counts those), newest first:

* ``keepLast: N`` keeps the N newest;
* ``daily``/``weekly``/``monthly: N`` keep the newest of each of the last N
  days / ISO weeks / months (UTC) *that have a good backup* — a week without
  backups does not use up a slot;
* a backup kept by any rule is kept.

Whatever the rules say, these are never deleted: the newest good backup (the
one a restore would use), a backup an active drill or restore is using, and
a backup Velero has not finished (or is already deleting). A Failed,
FailedValidation or uncounted PartiallyFailed backup is deleted once a newer
good backup exists, and kept as evidence until then. A policy without
retention rules prunes nothing: Velero's ttl alone expires its backups.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from drd.backups.observe import BackupObservation
from drd.policy.durations import format_duration
from drd.policy.models.backup import Retention


@dataclass(frozen=True, slots=True)
class PrunePlan:
    """What a retention pass keeps and deletes, newest first, and why (one reason per backup)."""

    keep: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)


_CALENDAR_RULES: tuple[tuple[str, Callable[[datetime], Hashable], Callable[[datetime], str]], ...] = (
    ("daily", lambda t: t.date(), lambda t: f"{t:%Y-%m-%d}"),
    ("weekly", lambda t: t.isocalendar()[:2], lambda t: "{}-W{:02d}".format(*t.isocalendar()[:2])),
    ("monthly", lambda t: (t.year, t.month), lambda t: f"{t:%Y-%m}"),
)


def plan(
    retention: Retention,
    backups: Iterable[BackupObservation],
    *,
    now: datetime,
    in_use: frozenset[str] = frozenset(),
    count_partially_failed: bool = False,
) -> PrunePlan:
    """The prune plan for one policy's backups in one cluster (see the module docstring for the rules)."""
    ordered = sorted(backups, key=_order, reverse=True)
    if not retention.rules:
        reason = "no retention rules: Velero's ttl expires it"
        return PrunePlan(keep=tuple(b.name for b in ordered), reasons=dict.fromkeys((b.name for b in ordered), reason))
    good = [b for b in ordered if b.terminal and b.good(count_partially_failed=count_partially_failed)]
    context = _Context(
        kept_by=_kept_by_rules(retention, good),
        newest_good=good[0] if good else None,
        in_use=in_use,
        now=now,
        count_partially_failed=count_partially_failed,
        rules=", ".join(f"{rule} {count}" for rule, count in retention.rules.items()),
    )
    reasons: dict[str, str] = {}
    keep: list[str] = []
    delete: list[str] = []
    for backup in ordered:
        kept, reasons[backup.name] = _decide(backup, context)
        (keep if kept else delete).append(backup.name)
    return PrunePlan(keep=tuple(keep), delete=tuple(delete), reasons=reasons)


@dataclass(frozen=True, slots=True)
class _Context:
    """What every decision of one plan needs."""

    kept_by: Mapping[str, list[str]]
    newest_good: BackupObservation | None
    in_use: frozenset[str]
    now: datetime
    count_partially_failed: bool
    rules: str


def _decide(backup: BackupObservation, context: _Context) -> tuple[bool, str]:
    """(keep?, why) for one backup."""
    protected = _protected(backup, context)
    if protected is not None:
        return True, protected
    if backup.good(count_partially_failed=context.count_partially_failed):
        return False, f"not kept by any retention rule ({context.rules})"
    newest_good = context.newest_good
    if newest_good is not None and _order(newest_good) > _order(backup):
        return False, f"{backup.phase}{_age(backup, context.now)}, and a newer good backup exists ({newest_good.name})"
    return True, f"{backup.phase}, and no newer good backup exists yet: kept as evidence"


def _protected(backup: BackupObservation, context: _Context) -> str | None:
    """Why a backup must be kept whatever else holds, or None: in use, unfinished, kept by a rule, newest good."""
    if backup.name in context.in_use:
        return "in use by an active drill or restore"
    if not backup.terminal:
        return f"{backup.phase}: Velero has not finished with it"
    if backup.name in context.kept_by:
        return "kept by " + ", ".join(context.kept_by[backup.name])
    if context.newest_good is not None and backup.name == context.newest_good.name:
        return "the newest good backup is never pruned"
    return None


def _kept_by_rules(retention: Retention, good: list[BackupObservation]) -> dict[str, list[str]]:
    """Backup name → the rules that keep it, e.g. ``["keepLast (1 of 3)", "daily (2026-06-01)"]``."""
    kept: dict[str, list[str]] = {}
    if retention.keep_last:
        for index, backup in enumerate(good[: retention.keep_last], start=1):
            kept.setdefault(backup.name, []).append(f"keepLast ({index} of {retention.keep_last})")
    counts = {"daily": retention.daily, "weekly": retention.weekly, "monthly": retention.monthly}
    for rule, bucket_of, label_of in _CALENDAR_RULES:
        count = counts[rule] or 0
        seen: set[Hashable] = set()
        for backup in good:
            moment = _moment(backup)
            bucket = bucket_of(moment)
            if bucket in seen:
                continue
            if len(seen) == count:
                break
            seen.add(bucket)
            kept.setdefault(backup.name, []).append(f"{rule} ({label_of(moment)})")
    return kept


def _moment(backup: BackupObservation) -> datetime:
    """When the backup happened, in UTC (the calendar rules bucket by UTC days, weeks and months)."""
    return (backup.moment or _DAWN).astimezone(UTC)


def _order(backup: BackupObservation) -> tuple[datetime, str]:
    """Sort key: by time, then by name (Velero's names end in a timestamp, so ties order by creation)."""
    return _moment(backup), backup.name


def _age(backup: BackupObservation, now: datetime) -> str:
    if backup.moment is None:
        return ""
    seconds = int(max(0.0, (now - backup.moment).total_seconds()))
    return f" {format_duration(timedelta(seconds=seconds))} ago"


_DAWN = datetime.min.replace(tzinfo=UTC)
