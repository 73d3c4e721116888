"""What the apiserver does to an object on create and update, as pure functions on dicts.

System metadata (uid, creationTimestamp, generation, deletionTimestamp), status
isolation between a resource and its ``/status`` subresource, the few defaults the
emulator applies, ``Secret.stringData`` folding and the ``autoscaling/v1`` Scale
view. The store calls these under its lock; they never touch shared state and
never modify their arguments.
"""

from __future__ import annotations

import base64
import copy
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

from drd.sandbox.kube.registry import ResourceType
from drd.sandbox.kube.selectors import LabelSelector

Obj = dict[str, Any]

_GENERATED_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SYSTEM_METADATA = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
DROPPED_METADATA = ("managedFields", "selfLink")


def rfc3339(moment: datetime) -> str:
    """A timestamp as the apiserver writes it: UTC, whole seconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generated_name(prefix: str, rng: random.Random) -> str:
    """``generateName`` + 5 random characters from the apiserver's alphabet."""
    return prefix[:58] + "".join(rng.choice(_GENERATED_ALPHABET) for _ in range(5))


def get_path(obj: Any, path: str) -> Any:
    """The value at a ``.spec.replicas``-style path, or ``None``."""
    current = obj
    for step in path.strip(".").split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


def set_path(obj: Obj, path: str, value: Any) -> None:
    """Set the value at a ``.spec.replicas``-style path, creating maps on the way."""
    steps = path.strip(".").split(".")
    current = obj
    for step in steps[:-1]:
        current = current.setdefault(step, {})
    current[steps[-1]] = value


def _default_namespace(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def _default_replicas(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1


def _default_deployment(obj: Obj) -> None:
    _default_replicas(obj)
    spec = obj["spec"]
    spec.setdefault(
        "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


def _default_secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        data = obj.setdefault("data", {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _default_service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")


DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Namespace"): _default_namespace,
    ("", "Secret"): _default_secret,
    ("", "Service"): _default_service,
    ("apps", "Deployment"): _default_deployment,
    ("apps", "StatefulSet"): _default_replicas,
    ("apps", "ReplicaSet"): _default_replicas,
}
"""The defaulting the emulator does (a real apiserver defaults every field of every built-in type)."""

INITIAL_STATUS: dict[tuple[str, str], Obj] = {
    ("", "Namespace"): {"phase": "Active"},
    ("", "Pod"): {"phase": "Pending"},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
}
"""Status set on create for resources whose status a create may not write."""

KEEPS_STATUS_ON_CREATE = frozenset({("", "Node")})

ZERO_STATUS_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("apps", "ReplicaSet"): ("replicas",),
    ("apps", "StatefulSet"): ("replicas", "availableReplicas"),
    ("apps", "DaemonSet"): ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady"),
    ("policy", "PodDisruptionBudget"): ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"),
}
"""Status integers Go serialises even when zero (no ``omitempty``); clients treat them as required."""


def _fill_zero_status(rt: ResourceType, obj: Obj) -> None:
    fields = ZERO_STATUS_FIELDS.get((rt.group, rt.kind))
    if fields and isinstance(obj.get("status"), dict):
        for name in fields:
            obj["status"].setdefault(name, 0)


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """Apply the emulator's defaults to ``obj`` in place."""
    defaulter = DEFAULTERS.get((rt.group, rt.kind))
    if defaulter is not None:
        defaulter(obj)


def ordered(obj: Obj) -> Obj:
    """The same object with keys in the apiserver's order: apiVersion, kind, metadata, ..., status."""
    head: Obj = {k: obj[k] for k in ("apiVersion", "kind", "metadata") if k in obj}
    body = {k: v for k, v in obj.items() if k not in head and k != "status"}
    tail = {"status": obj["status"]} if "status" in obj else {}
    return {**head, **body, **tail}


def prepare_create(
    rt: ResourceType,
    body: Obj,
    *,
    namespace: str | None,
    now: datetime,
    uid: str,
) -> Obj:
    """The object as it will be stored (minus ``resourceVersion``): system metadata filled, status reset."""
    obj = copy.deepcopy(body)
    obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind
    meta = obj.setdefault("metadata", {})
    for key in (*DROPPED_METADATA, "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
        meta.pop(key, None)
    if rt.namespaced:
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    meta["uid"] = uid
    meta["creationTimestamp"] = rfc3339(now)
    if rt.generation:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)
    if rt.status_subresource and (rt.group, rt.kind) not in KEEPS_STATUS_ON_CREATE:
        initial = INITIAL_STATUS.get((rt.group, rt.kind))
        if initial is not None:
            obj["status"] = copy.deepcopy(initial)
        elif rt.custom:
            obj.pop("status", None)
        else:
            obj["status"] = {}
    apply_defaults(rt, obj)
    _fill_zero_status(rt, obj)
    return ordered(obj)


def prepare_update(rt: ResourceType, old: Obj, body: Obj, *, subresource: str | None) -> Obj:
    """The object an update would store: body content, old system metadata, status isolation applied.

    ``subresource="status"`` takes only ``status`` from the body; ``"finalize"``
    (namespaces) only ``spec.finalizers``; a main-resource write keeps the old
    status when the resource has a status subresource.
    """
    if subresource == "status":
        new = copy.deepcopy(old)
        if "status" in body:
            new["status"] = copy.deepcopy(body["status"])
        else:
            new.pop("status", None)
        _fill_zero_status(rt, new)
        return new
    if subresource == "finalize":
        new = copy.deepcopy(old)
        new.setdefault("spec", {})["finalizers"] = list((body.get("spec") or {}).get("finalizers") or [])
        return new
    new = copy.deepcopy(body)
    new["apiVersion"] = rt.api_version
    new["kind"] = rt.kind
    meta = new.setdefault("metadata", {}) or {}
    new["metadata"] = meta
    old_meta = old["metadata"]
    for key in DROPPED_METADATA:
        meta.pop(key, None)
    for key in (*SYSTEM_METADATA, "name", "namespace"):
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if rt.status_subresource:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if (rt.group, rt.kind) == ("", "Namespace"):
        new.setdefault("spec", {})["finalizers"] = list((old.get("spec") or {}).get("finalizers") or [])
    apply_defaults(rt, new)
    return ordered(new)


def bump_generation(rt: ResourceType, old: Obj, new: Obj) -> None:
    """Increment ``metadata.generation`` in ``new`` when its desired state changed.

    Built-ins compare ``spec``; custom resources compare everything but ``metadata``
    (and ``status`` when it is a subresource), as the apiextensions strategy does.
    """
    if not rt.generation:
        return
    if rt.custom:
        ignored = {"metadata", "status"} if rt.status_subresource else {"metadata"}
        before = {k: v for k, v in old.items() if k not in ignored}
        after = {k: v for k, v in new.items() if k not in ignored}
        changed = before != after
    else:
        changed = old.get("spec") != new.get("spec")
    if changed:
        new["metadata"]["generation"] = int(old["metadata"].get("generation") or 1) + 1


def unchanged(old: Obj, new: Obj) -> bool:
    """Whether an update is a no-op (so the stored object and its resourceVersion stay)."""
    if old.keys() != new.keys():
        return False
    old_meta = {k: v for k, v in old["metadata"].items() if k != "resourceVersion"}
    new_meta = {k: v for k, v in new["metadata"].items() if k != "resourceVersion"}
    if old_meta != new_meta:
        return False
    return all(old[k] == new[k] for k in old if k != "metadata")


def mark_deleting(obj: Obj, *, now: datetime) -> Obj:
    """A copy of ``obj`` with ``deletionTimestamp`` set (and generation bumped), as graceful deletion does."""
    new = copy.deepcopy(obj)
    meta = new["metadata"]
    meta["deletionTimestamp"] = rfc3339(now)
    meta["deletionGracePeriodSeconds"] = 0
    if int(meta.get("generation") or 0) > 0:
        meta["generation"] = int(meta["generation"]) + 1
    if new.get("kind") == "Namespace" and new.get("apiVersion") == "v1":
        new.setdefault("status", {})["phase"] = "Terminating"
    return new


def scale_of(rt: ResourceType, obj: Obj) -> Obj:
    """The ``autoscaling/v1`` Scale view of a scalable object."""
    assert rt.scale is not None
    meta = obj["metadata"]
    if rt.scale.label_selector_path is None:
        selector = str(LabelSelector.from_dict((obj.get("spec") or {}).get("selector")))
    else:
        selector = str(get_path(obj, rt.scale.label_selector_path) or "")
    status: Obj = {"replicas": int(get_path(obj, rt.scale.status_replicas_path) or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta
        },
        "spec": {"replicas": int(get_path(obj, rt.scale.spec_replicas_path) or 0)},
        "status": status,
    }


def with_scale(rt: ResourceType, obj: Obj, replicas: int) -> Obj:
    """A copy of ``obj`` with its desired replicas set."""
    assert rt.scale is not None
    new = copy.deepcopy(obj)
    set_path(new, rt.scale.spec_replicas_path, replicas)
    return new
