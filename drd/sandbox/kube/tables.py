"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` asks for.

kubectl requests ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and
prints the columns the server chooses. Custom resources get ``Name`` plus their
``additionalPrinterColumns`` (or ``Age`` when there are none), with ``date``
cells rendered as ages (``5m``, ``3d``) by the apiserver's ``HumanDuration``.
A few built-ins get their familiar columns (namespaces, configmaps, secrets,
pods, deployments, leases); every other built-in gets ``Name`` and ``Age``
rather than its full upstream printer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from drd.sandbox.kube.objects import get_path
from drd.sandbox.kube.registry import PrinterColumn, ResourceType

Obj = dict[str, Any]
Cell = str | int | float | bool | None

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated."
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It "
    "is represented in RFC3339 form and is in UTC."
)
_AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date", AGE_DESCRIPTION)


def human_duration(seconds: float) -> str:  # noqa: PLR0911 - a transcription of the Go function
    """apimachinery's ``duration.HumanDuration``: ``42s``, ``3m20s``, ``5h``, ``2d3h``, ``1y``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _age(value: Any, now: datetime) -> Cell:
    if not isinstance(value, str):
        return "<unknown>"
    try:
        moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    return human_duration((now - moment).total_seconds())


def _pod_ready(obj: Obj) -> str:
    containers = (obj.get("spec") or {}).get("containers") or []
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return f"{sum(1 for s in statuses if s.get('ready'))}/{len(containers)}"


def _restarts(obj: Obj) -> int:
    return sum(int(s.get("restartCount") or 0) for s in (obj.get("status") or {}).get("containerStatuses") or [])


_Column = tuple[PrinterColumn, Callable[[Obj], Cell]]

BUILTIN_COLUMNS: dict[tuple[str, str], list[_Column]] = {
    ("", "namespaces"): [(PrinterColumn("Status", ".status.phase"), lambda o: get_path(o, ".status.phase"))],
    ("", "configmaps"): [
        (
            PrinterColumn("Data", ".data", "integer"),
            lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}),
        )
    ],
    ("", "secrets"): [
        (PrinterColumn("Type", ".type"), lambda o: o.get("type")),
        (PrinterColumn("Data", ".data", "integer"), lambda o: len(o.get("data") or {})),
    ],
    ("", "pods"): [
        (PrinterColumn("Ready", ".status.containerStatuses"), _pod_ready),
        (PrinterColumn("Status", ".status.phase"), lambda o: get_path(o, ".status.phase")),
        (PrinterColumn("Restarts", ".status.containerStatuses", "string"), _restarts),
    ],
    ("apps", "deployments"): [
        (
            PrinterColumn("Ready", ".status.readyReplicas"),
            lambda o: f"{get_path(o, '.status.readyReplicas') or 0}/{get_path(o, '.spec.replicas') or 0}",
        ),
        (
            PrinterColumn("Up-to-date", ".status.updatedReplicas", "integer"),
            lambda o: int(get_path(o, ".status.updatedReplicas") or 0),
        ),
        (
            PrinterColumn("Available", ".status.availableReplicas", "integer"),
            lambda o: int(get_path(o, ".status.availableReplicas") or 0),
        ),
    ],
    ("coordination.k8s.io", "leases"): [
        (PrinterColumn("Holder", ".spec.holderIdentity"), lambda o: get_path(o, ".spec.holderIdentity") or ""),
    ],
}


def _custom_cell(column: PrinterColumn, obj: Obj, now: datetime) -> Cell:
    value = get_path(obj, column.json_path)
    if value is None:
        return None
    if column.type == "date":
        return _age(value, now)
    if column.type in ("integer", "number", "boolean"):
        return value if isinstance(value, int | float | bool) else str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _definition(column: PrinterColumn, *, name_format: str = "") -> Obj:
    return {
        "name": column.name,
        "type": "string" if column.type == "date" else column.type,
        "format": name_format,
        "description": column.description,
        "priority": column.priority,
    }


def table(rt: ResourceType, items: list[Obj], *, now: datetime, meta: Obj | None = None) -> Obj:
    """The Table for a list (or one object) of ``rt``."""
    name_column = PrinterColumn("Name", ".metadata.name", "string", NAME_DESCRIPTION)
    builtin = None if rt.custom else BUILTIN_COLUMNS.get((rt.group, rt.plural), [])
    if builtin is not None:
        columns = [column for column, _ in builtin] + [_AGE]
    else:
        custom = [c for c in rt.printer_columns if c.json_path != ".metadata.name"]
        columns = custom or [_AGE]
    rows = []
    for obj in items:
        cells: list[Cell] = [obj["metadata"]["name"]]
        if builtin is not None:
            cells.extend(render(obj) for _, render in builtin)
            cells.append(_age(obj["metadata"].get("creationTimestamp"), now))
        else:
            cells.extend(_custom_cell(column, obj, now) for column in columns)
        rows.append(
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta or {},
        "columnDefinitions": [_definition(name_column, name_format="name")] + [_definition(c) for c in columns],
        "rows": rows,
    }
