"""The incident restore's plan, decided from facts: pure, no I/O (facts come from :mod:`drd.restore.facts`).

Two decisions, each a function of what was read and of ``now``:

* :func:`choose_backup`: the backup named (``--backup``), the newest good one
  whose data was taken before a moment (``--before``), or the newest good one;
  a backup that is Failed, expired, being deleted or not yet replicated to the
  target cluster is refused with the reason;
* :func:`make_plan`: into which namespaces, what happens to each object of the
  backup's resource list (create, skip, update, replace), how long it should
  take (from the application's past drills), and the guard rails: a target
  namespace with live workloads needs ``--existing update`` (or ``--replace``)
  and a typed confirmation (``--yes --i-understand-live-namespace`` for
  automation).

A refusal is part of the plan (``refusal``), so ``--dry-run`` shows it too.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drd.operations.restore_scope import selected
from drd.operations.restore_verification import ObjectKey, expected_objects
from drd.velero.timefmt import parse_rfc3339

GOOD = "Completed"
USABLE = ("Completed", "PartiallyFailed")
MAX_LISTED_OBJECTS = 500


class PlanError(ValueError):
    """The request contradicts itself or the backup (a usage error: nothing was attempted)."""


@dataclass(frozen=True)
class Request:
    """What the person asked for, as given on the command line."""

    application: str
    """The BackupPolicy name."""
    target_cluster: str
    source_cluster: str
    backup: str | None = None
    before: datetime | None = None
    namespaces: tuple[str, ...] = ()
    """Restore only these source namespaces (``--namespace``)."""
    as_namespace: str | None = None
    include_resources: tuple[str, ...] = ()
    exclude_resources: tuple[str, ...] = ()
    existing: str = "skip"
    """``skip`` (Velero's ``none``) or ``update``."""
    replace: bool = False
    yes: bool = False
    live_namespace_ok: bool = False
    """``--i-understand-live-namespace``."""


@dataclass(frozen=True)
class Choice:
    """The chosen backup, or why none can be restored."""

    backup: Mapping[str, Any] | None
    refusal: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class NamespaceFacts:
    """A target namespace as the target cluster has it now."""

    exists: bool
    terminating: bool = False
    workloads: tuple[str, ...] = ()
    """``Deployment/storefront``…: live workloads (any Deployment, StatefulSet or DaemonSet)."""


@dataclass(frozen=True)
class Facts:
    """What :mod:`drd.restore.facts` read for the chosen backup."""

    resource_list: Mapping[str, Sequence[str]]
    resource_names: Mapping[str, frozenset[str]]
    """``group/version/Kind`` → the names a resource filter may use for it."""
    present: frozenset[ObjectKey]
    namespaces: Mapping[str, NamespaceFacts]
    """Target namespace → what exists there."""
    drill_seconds: Mapping[str, Sequence[float]] = field(default_factory=dict)
    """``restore``/``verify`` → durations of that phase in past drills of the application, newest first."""
    rto_seconds: float | None = None
    """The application's RTO objective (from its DrillPolicy), when it has one."""


# -- the backup -----------------------------------------------------------------------------------


def _name(backup: Mapping[str, Any]) -> str:
    return str((backup.get("metadata") or {}).get("name") or "")


def _status(backup: Mapping[str, Any]) -> Mapping[str, Any]:
    return backup.get("status") or {}


def taken_at(backup: Mapping[str, Any]) -> datetime | None:
    """When the backup's data was taken: its ``startTimestamp`` (else its completion)."""
    status = _status(backup)
    return parse_rfc3339(status.get("startTimestamp")) or parse_rfc3339(status.get("completionTimestamp"))


def backup_refusal(
    backup: Mapping[str, Any], *, application: str, now: datetime, doomed: Iterable[str] = ()
) -> str | None:
    """Why this backup cannot be restored now, or None."""
    name = _name(backup)
    status = _status(backup)
    phase = str(status.get("phase") or "New")
    labelled = ((backup.get("metadata") or {}).get("labels") or {}).get("drd.dev/policy")
    if labelled and labelled != application:
        return f"backup {name} belongs to {labelled}, not {application}"
    if (backup.get("metadata") or {}).get("deletionTimestamp") or phase == "Deleting" or name in set(doomed):
        return f"backup {name} is being deleted"
    if phase in ("Failed", "FailedValidation"):
        reason = status.get("failureReason") or "; ".join(status.get("validationErrors") or []) or "see velero logs"
        return f"backup {name} is {phase} ({reason}): it holds nothing restorable"
    if phase not in USABLE:
        return f"backup {name} is {phase}: it has not finished"
    expires = parse_rfc3339(status.get("expiration"))
    if expires is not None and expires <= now:
        return f"backup {name} expired at {expires:%Y-%m-%d %H:%M:%SZ}: Velero is deleting it"
    return None


def choose_backup(
    request: Request,
    backups: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    doomed: Iterable[str] = (),
    source_backups: Sequence[Mapping[str, Any]] | None = None,
    source_error: str | None = None,
) -> Choice:
    """The backup to restore, from the target cluster's ``backups`` (every phase) of the application.

    ``source_backups`` are the application's backups in its own cluster when
    that is another one and could be asked (``source_error`` says why not): they
    tell "not replicated yet" from "does not exist", and which newer backups
    have not reached the target.
    """
    doomed = frozenset(doomed)
    remote = request.target_cluster != request.source_cluster
    here = {_name(b): b for b in backups}
    if request.backup:
        found = here.get(request.backup)
        if found is None:
            return Choice(None, _missing(request, source_backups, source_error))
        refusal = backup_refusal(found, application=request.application, now=now, doomed=doomed)
        warnings = []
        if _status(found).get("phase") == "PartiallyFailed":
            warnings.append(f"backup {request.backup} is PartiallyFailed: some objects may be missing from it")
        return Choice(found if refusal is None else None, refusal, tuple(warnings))
    good = [
        b
        for b in backups
        if _status(b).get("phase") == GOOD
        and backup_refusal(b, application=request.application, now=now, doomed=doomed) is None
        and taken_at(b) is not None
    ]
    if request.before is not None:
        before = request.before
        good = [b for b in good if (taken_at(b) or before) < before]
    good.sort(key=_newness, reverse=True)
    lagging = _not_replicated(here, source_backups, request.before) if remote else []
    if not good:
        what = f"taken before {request.before:%Y-%m-%d %H:%M:%SZ}" if request.before else "at all"
        reason = f"no Completed backup of {request.application} in {request.target_cluster} {what}"
        if lagging:
            reason += (
                f" ({len(lagging)} in {request.source_cluster} have not replicated yet, newest {_name(lagging[0])})"
            )
        elif remote and source_error:
            reason += f" ({request.source_cluster} could not be asked: {source_error})"
        return Choice(None, reason)
    warnings = []
    newer = [b for b in lagging if _newness(b) > _newness(good[0])]
    if newer:
        warnings.append(
            f"{len(newer)} newer backup(s) in {request.source_cluster} have not replicated to "
            f"{request.target_cluster} yet (newest {_name(newer[0])})"
        )
    if remote and source_error:
        warnings.append(f"{request.source_cluster} could not be asked for newer backups: {source_error}")
    return Choice(good[0], None, tuple(warnings))


def _missing(request: Request, source: Sequence[Mapping[str, Any]] | None, error: str | None) -> str:
    name = request.backup
    if request.target_cluster != request.source_cluster:
        if source is not None and any(_name(b) == name for b in source):
            return (
                f"backup {name} exists in {request.source_cluster} but has not replicated to "
                f"{request.target_cluster} yet (bucket replication or Velero's backup sync is behind)"
            )
        if error:
            return (
                f"backup {name} is not in {request.target_cluster} (and {request.source_cluster} could not be "
                f"asked: {error})"
            )
    return f"backup {name} does not exist in {request.target_cluster}"


def _not_replicated(
    here: Mapping[str, Any], source: Sequence[Mapping[str, Any]] | None, before: datetime | None
) -> list[Mapping[str, Any]]:
    """Good backups of the source cluster the target does not have, newest first."""
    lagging = [
        b
        for b in source or ()
        if _name(b) not in here
        and _status(b).get("phase") == GOOD
        and (before is None or (taken_at(b) or before) < before)
    ]
    return sorted(lagging, key=_newness, reverse=True)


def _newness(backup: Mapping[str, Any]) -> tuple[str, str]:
    taken = taken_at(backup)
    return (taken.isoformat() if taken else "", _name(backup))


def source_namespaces(backup: Mapping[str, Any], resource_list: Mapping[str, Sequence[str]]) -> list[str]:
    """The namespaces a backup holds: its ``includedNamespaces`` when they are names, else what its list shows."""
    included = list((backup.get("spec") or {}).get("includedNamespaces") or [])
    if included and not any(ch in name for name in included for ch in "*?[{"):
        return sorted(included)
    found = {entry.rpartition("/")[0] for entries in resource_list.values() for entry in entries}
    found |= set(resource_list.get("v1/Namespace") or [])
    return sorted(n for n in found if n)


def namespace_mapping(request: Request, sources: Sequence[str]) -> dict[str, str]:
    """Source namespace → target namespace, after ``--namespace`` and ``--as``; PlanError when they do not fit."""
    chosen = list(request.namespaces) or list(sources)
    unknown = sorted(set(chosen) - set(sources))
    if unknown:
        raise PlanError(
            f"--namespace {', '.join(unknown)}: not in the backup (it holds {', '.join(sources) or 'no namespace'})"
        )
    if not chosen:
        raise PlanError("the backup holds no namespace to restore")
    if request.as_namespace and len(chosen) != 1:
        raise PlanError(f"--as maps one namespace; the restore covers {', '.join(chosen)}: pick one with --namespace")
    if request.replace and len(chosen) != 1:
        raise PlanError(f"--replace works on one namespace; the restore covers {', '.join(chosen)}")
    return {ns: (request.as_namespace or ns) for ns in sorted(chosen)}


# -- the plan -------------------------------------------------------------------------------------


def make_plan(
    request: Request,
    choice: Choice,
    facts: Facts | None,
    *,
    mapping: Mapping[str, str],
    now: datetime,
    target: Mapping[str, Any],
    source: Mapping[str, Any],
) -> dict[str, Any]:
    """The plan document: shown to the person, kept with the run, printed as JSON with ``-o json``."""
    plan: dict[str, Any] = {
        "application": request.application,
        "source": dict(source),
        "target": dict(target),
        "backup": _backup_facts(choice.backup, now) if choice.backup is not None else None,
        "warnings": list(choice.warnings),
        "existing": "replace" if request.replace else request.existing,
        "includeResources": list(request.include_resources),
        "excludeResources": list(request.exclude_resources),
        "namespaces": [],
        "objects": [],
        "summary": {},
        "estimate": None,
        "guard": {"liveNamespaces": [], "confirm": "none"},
        "refusal": choice.refusal,
    }
    if choice.backup is None or facts is None:
        return plan
    objects = _objects(request, facts, mapping)
    plan["objects"] = objects[:MAX_LISTED_OBJECTS]
    plan["objectsListed"] = min(len(objects), MAX_LISTED_OBJECTS)
    plan["summary"] = _summary(objects)
    plan["namespaces"] = [
        {
            "source": src,
            "target": dst,
            "exists": facts.namespaces.get(dst, NamespaceFacts(False)).exists,
            "terminating": facts.namespaces.get(dst, NamespaceFacts(False)).terminating,
            "liveWorkloads": list(facts.namespaces.get(dst, NamespaceFacts(False)).workloads),
        }
        for src, dst in sorted(mapping.items())
    ]
    for ns in plan["namespaces"]:
        if ns["terminating"]:
            plan["warnings"].append(f"namespace {ns['target']} is being deleted: objects restored into it will fail")
    plan["estimate"] = _estimate(facts)
    plan["guard"], refusal = _guard(request, plan["namespaces"])
    plan["refusal"] = choice.refusal or refusal
    return plan


def _backup_facts(backup: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    status = _status(backup)
    taken = taken_at(backup)
    expires = parse_rfc3339(status.get("expiration"))
    return {
        "name": _name(backup),
        "phase": status.get("phase") or "",
        "startedAt": status.get("startTimestamp") or "",
        "completedAt": status.get("completionTimestamp") or "",
        "ageSeconds": round((now - taken).total_seconds(), 3) if taken else None,
        "expiresInSeconds": round((expires - now).total_seconds(), 3) if expires else None,
        "warnings": int(status.get("warnings") or 0),
        "errors": int(status.get("errors") or 0),
        "items": int((status.get("progress") or {}).get("itemsBackedUp") or 0),
        "storageLocation": (backup.get("spec") or {}).get("storageLocation") or "",
    }


def _objects(request: Request, facts: Facts, mapping: Mapping[str, str]) -> list[dict[str, Any]]:
    listing = {
        gvk: entries
        for gvk, entries in facts.resource_list.items()
        if gvk == "v1/Namespace"
        or selected(
            facts.resource_names.get(gvk, frozenset()),
            included=request.include_resources,
            excluded=request.exclude_resources,
        )
    }
    expected = expected_objects(listing, namespace_mapping=mapping, included_namespaces=sorted(mapping))
    rows = []
    for key in sorted(expected):
        exists = key in facts.present
        if not exists:
            action = "create"
        elif key.kind == "Namespace" and not key.namespace:
            action = "replace" if request.replace else "keep"
        elif request.replace:
            action = "replace"
        else:
            action = request.existing
        rows.append({"kind": key.gvk, "namespace": key.namespace, "name": key.name, "exists": exists, "action": action})
    return rows


def _summary(objects: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = {"create": 0, "skip": 0, "update": 0, "replace": 0, "keep": 0}
    for row in objects:
        counts[row["action"]] += 1
    return {"total": len(objects), **counts}


def _estimate(facts: Facts) -> dict[str, Any] | None:
    restore = list(facts.drill_seconds.get("restore") or [])
    verify = list(facts.drill_seconds.get("verify") or [])
    if not restore:
        return {"seconds": None, "drills": 0, "rtoSeconds": facts.rto_seconds}
    seconds = statistics.median(restore) + (statistics.median(verify) if verify else 0.0)
    return {
        "seconds": round(seconds, 1),
        "restoreSeconds": round(statistics.median(restore), 1),
        "verifySeconds": round(statistics.median(verify), 1) if verify else None,
        "drills": len(restore),
        "rtoSeconds": facts.rto_seconds,
    }


def _guard(request: Request, namespaces: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], str | None]:
    live = [ns["target"] for ns in namespaces if ns["liveWorkloads"]]
    guard: dict[str, Any] = {"liveNamespaces": live, "confirm": "yes-flag" if request.yes else "y/N"}
    if not live:
        return guard, None
    guard["confirm"] = "yes-flag" if request.yes else "type-namespace"
    names = ", ".join(live)
    if not request.replace and request.existing != "update":
        return guard, (
            f"namespace {names} in {request.target_cluster} has live workloads: restoring into it needs "
            "--existing update (or --replace), and typing the namespace name to confirm"
        )
    if request.yes and not request.live_namespace_ok:
        return guard, (
            f"namespace {names} in {request.target_cluster} has live workloads: --yes restores into it only "
            "with --i-understand-live-namespace"
        )
    return guard, None
