"""The in-process API of an emulated cluster: the apiserver's CRUD semantics on plain dicts.

:class:`Store` is what the HTTP layer *and* simulators call:
``get/list/create/update/patch/delete``, ``subscribe``/``queue``/``watch`` for
changes, and ``wait_for``. It raises the typed errors of
:mod:`drd.sandbox.kube.errors`, which the HTTP layer renders as ``Status`` bodies,
so in-process and HTTP callers see the same failures. Each call holds the cluster
state's lock for its whole duration, so it is atomic.

Semantics kept from the real apiserver:

* one global, integer ``resourceVersion`` (a string on the wire), bumped by every
  write; a write that changes nothing keeps the object's version and emits no event;
* optimistic concurrency: an update or patch carrying a stale ``resourceVersion``
  fails with 409 Conflict (a custom resource cannot be replaced without one: 422);
* system metadata, status isolation, generation and defaults (:mod:`objects`);
  name and label validation (:mod:`validation`); namespace lifecycle (:mod:`admission`);
* finalizers, namespace and CRD termination, garbage collection (:mod:`deletion`);
* creating or updating a CRD serves exactly the versions it declares.

Objects returned by the public methods are private deep copies.
"""

from __future__ import annotations

import builtins
import copy
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from drd.clock import Clock, SystemClock
from drd.sandbox.kube import admission, crds, errors, objects, pagination, patches, validation
from drd.sandbox.kube.deletion import Deleter, Propagation
from drd.sandbox.kube.events import CallbackSubscription, EventQueue, StoreEvent, Subscription
from drd.sandbox.kube.patches import PatchType
from drd.sandbox.kube.registry import CRDS, NAMESPACES, Registry, ResourceType
from drd.sandbox.kube.selectors import FieldSelector, LabelSelector
from drd.sandbox.kube.state import ClusterState, ObjectKey

Obj = dict[str, Any]
ResourceRef = ResourceType | str
"""A resource, or its kubectl-style name: ``configmaps``, ``deployments.apps``, ``backups.velero.io``, ``deploy``."""


class Store:
    """Thread-safe object storage with Kubernetes API semantics (see the module docstring)."""

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        history: int = 1000,
    ) -> None:
        """``seed`` makes uids and generated names reproducible; ``history`` bounds the watch-event ring."""
        self.registry = registry or Registry()
        self.clock: Clock = clock or SystemClock()
        self._rng = random.Random(seed)  # noqa: S311 - names and uids, not secrets; seeded for reproducible runs
        self._state = ClusterState(history=history)
        self._deleter = Deleter(self._state, self.registry, self.clock)

    # ------------------------------------------------------------------ resources

    def resource(self, ref: ResourceRef) -> ResourceType:
        """Resolve a resource reference; raises :class:`errors.RouteNotFound` for an unknown one."""
        if isinstance(ref, ResourceType):
            return ref
        rt = self.registry.resolve(ref)
        if rt is None:
            raise errors.RouteNotFound()
        return rt

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion handed out."""
        return self._state.resource_version

    # ------------------------------------------------------------------ reads

    def get(
        self, resource: ResourceRef, name: str, *, namespace: str | None = None, subresource: str | None = None
    ) -> Obj:
        """A copy of one object (or its ``scale`` view); :class:`errors.NotFound` if absent."""
        rt = self.resource(resource)
        with self._state.lock:
            obj = self._get_locked(rt, namespace, name)
            if subresource == "scale":
                return objects.scale_of(_require_scale(rt), obj)
            return _served(rt, obj, deep=True)

    def list(
        self,
        resource: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | LabelSelector = "",
        field_selector: str | FieldSelector = "",
    ) -> builtins.list[Obj]:
        """Copies of the matching objects, sorted by namespace and name (all namespaces when ``namespace`` is None)."""
        page = self.list_page(
            resource, namespace=namespace, label_selector=label_selector, field_selector=field_selector
        )
        return [copy.deepcopy(o) for o in page.items]

    def list_page(
        self,
        resource: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str | LabelSelector = "",
        field_selector: str | FieldSelector = "",
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> pagination.Page:
        """One page of a list (see :mod:`pagination`); the items are the stored dicts: do not modify them."""
        rt = self.resource(resource)
        labels = label_selector if isinstance(label_selector, LabelSelector) else LabelSelector.parse(label_selector)
        fields = field_selector if isinstance(field_selector, FieldSelector) else FieldSelector.parse(field_selector)
        with self._state.lock:
            start, list_rv = None, self._state.resource_version
            if continue_token:
                start, list_rv = pagination.decode(continue_token, compacted=self._state.compacted)
            collection = self._state.items(rt.storage_key)
            keys = sorted(
                k for k in collection if (namespace is None or k[0] == namespace) and (not start or k > start)
            )
            matched: builtins.list[Obj] = []
            for index, key in enumerate(keys):
                obj = collection[key]
                if not (labels.matches_object(obj) and fields.matches(obj)):
                    continue
                if limit and len(matched) == limit:
                    token = pagination.encode(_key_of(matched[-1]), list_rv)
                    remaining = None if (labels.requirements or fields.requirements) else len(keys) - index
                    return pagination.Page([_served(rt, o) for o in matched], list_rv, token, remaining)
                matched.append(obj)
            return pagination.Page([_served(rt, o) for o in matched], list_rv)

    # ------------------------------------------------------------------ writes

    def create(self, resource: ResourceRef, obj: Obj, *, namespace: str | None = None, dry_run: bool = False) -> Obj:
        """Create an object (``namespace`` defaults to ``obj``'s); returns the stored copy."""
        rt = self.resource(resource)
        with self._state.lock:
            stored = self._create_locked(rt, obj, namespace, dry_run=dry_run)
            self._state.drain()
            return _served(rt, stored, deep=True)

    def update(
        self,
        resource: ResourceRef,
        obj: Obj,
        *,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Replace an object (PUT): a stale ``metadata.resourceVersion`` is a Conflict, an absent one is unconditional.

        ``subresource="status"`` changes only ``status``; ``"scale"`` takes a Scale
        object; ``"finalize"`` (namespaces) only ``spec.finalizers``. ``name`` is the
        name from the URL (defaults to ``obj``'s).
        """
        rt = self.resource(resource)
        with self._state.lock:
            stored = self._update_locked(rt, obj, namespace, name, subresource, dry_run=dry_run)
            self._state.drain()
            return self._result(rt, stored, subresource)

    def patch(
        self,
        resource: ResourceRef,
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Patch an object with a merge, strategic-merge or JSON patch (see :func:`patches.apply`)."""
        rt = self.resource(resource)
        with self._state.lock:
            old = self._get_locked(rt, namespace, name)
            base = objects.scale_of(_require_scale(rt), old) if subresource == "scale" else _served(rt, old)
            patched = patches.apply(base, patch, patch_type, custom=rt.custom)
            if not isinstance(patched, dict):
                raise errors.BadRequest("the patch did not produce an object")
            meta = patched["metadata"] if isinstance(patched.get("metadata"), dict) else {}
            patched["metadata"] = meta
            if meta.get("resourceVersion") in (None, ""):
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            stored = self._update_locked(rt, patched, namespace, name, subresource, dry_run=dry_run)
            self._state.drain()
            return self._result(rt, stored, subresource)

    def delete(
        self,
        resource: ResourceRef,
        name: str,
        *,
        namespace: str | None = None,
        propagation_policy: Propagation | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete an object; returns ``(object, gone)``.

        ``gone`` is False when finalizers (or a namespace's content) keep the object,
        which then carries ``deletionTimestamp``. ``preconditions`` may hold ``uid``
        and ``resourceVersion`` (409 Conflict when they do not match).
        """
        rt = self.resource(resource)
        with self._state.lock:
            obj, gone = self._deleter.delete(
                rt,
                _key(rt, namespace, name),
                propagation=propagation_policy,
                preconditions=preconditions,
                dry_run=dry_run,
            )
            self._state.drain()
            return _served(rt, obj, deep=True), gone

    def delete_collection(
        self,
        resource: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        propagation_policy: Propagation | None = None,
        dry_run: bool = False,
    ) -> builtins.list[Obj]:
        """Delete every matching object; returns their last states."""
        rt = self.resource(resource)
        with self._state.lock:
            page = self.list_page(rt, namespace=namespace, label_selector=label_selector, field_selector=field_selector)
            deleted = []
            for obj in page.items:
                key = _key_of(obj)
                if self._state.lookup(rt.storage_key, key) is None:
                    continue  # garbage-collected by an earlier deletion of this loop
                last, _ = self._deleter.delete(rt, key, propagation=propagation_policy, dry_run=dry_run)
                deleted.append(_served(rt, last, deep=True))
            self._state.drain()
            return deleted

    # ------------------------------------------------------------------ changes

    def subscribe(
        self,
        callback: Callable[[StoreEvent], None],
        *,
        resource: ResourceRef | None = None,
        namespace: str | None = None,
    ) -> Subscription:
        """Call ``callback(event)`` after every committed change (optionally of one resource / namespace).

        Callbacks run synchronously in the writing thread while the store lock is
        held, in resource-version order, so when a write returns its subscribers have
        run. They may call the store (re-entrantly); events their writes cause are
        delivered after the current one. Keep them short; for slow work use :meth:`queue`.
        Exceptions are logged, never propagated to the writer.
        """
        key = self.resource(resource).storage_key if resource is not None else None
        return self._state.register(CallbackSubscription(self._state.unregister, key, namespace, callback))

    def queue(self, resource: ResourceRef | None = None, *, namespace: str | None = None) -> EventQueue:
        """An :class:`EventQueue` receiving every later change, for a controller thread to consume."""
        key = self.resource(resource).storage_key if resource is not None else None
        return self._state.register(EventQueue(self._state.unregister, key, namespace))

    def watch(self, resource: ResourceRef, *, namespace: str | None = None, since: int | None = None) -> EventQueue:
        """Open a watch: ``queue.initial`` holds what precedes live events, atomically with the subscription.

        ``since=None`` gives synthetic ADDED events for the current objects; ``since=N``
        replays the history after N — :class:`errors.Gone` (410 Expired) when that
        history was compacted away, :class:`errors.Timeout` (504) when N is in the future.
        """
        rt = self.resource(resource)
        with self._state.lock:
            sub = EventQueue(self._state.unregister, rt.storage_key, namespace)
            if since is None:
                sub.initial = [
                    StoreEvent("ADDED", rt, obj, None, int(obj["metadata"]["resourceVersion"]))
                    for key, obj in sorted(self._state.items(rt.storage_key).items())
                    if namespace is None or key[0] == namespace
                ]
            elif since < self._state.compacted:
                raise errors.Gone(f"too old resource version: {since} ({self._state.compacted})")
            elif since > self._state.resource_version:
                raise errors.Timeout(
                    f"Too large resource version: {since}, current: {self._state.resource_version}",
                    causes=[{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                )
            else:
                sub.initial = self._state.history_after(since, sub.wants)
            sub.opened_at = self._state.resource_version
            return self._state.register(sub)

    def compact(self) -> int:
        """Forget the event history (as etcd compaction does); later resumes from older versions get 410."""
        with self._state.lock:
            return self._state.compact()

    def wait_for(
        self,
        resource: ResourceRef,
        name: str,
        predicate: Callable[[Obj | None], bool],
        *,
        namespace: str | None = None,
        timeout: float = 5.0,
    ) -> Obj | None:
        """Block until ``predicate(object or None)`` holds; returns the object; TimeoutError after ``timeout`` s."""
        rt = self.resource(resource)
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while True:
                current = self._state.lookup(rt.storage_key, _key(rt, namespace, name))
                snapshot = None if current is None else _served(rt, current, deep=True)
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{rt.group_resource} {namespace}/{name}: condition not met in {timeout}s")
                self._state.changed.wait(remaining)

    # ------------------------------------------------------------------ internals

    def _get_locked(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self._state.lookup(rt.storage_key, _key(rt, namespace, name))
        if obj is None:
            raise errors.NotFound(rt.group_resource, name)
        return obj

    def _result(self, rt: ResourceType, stored: Obj, subresource: str | None) -> Obj:
        if subresource == "scale":
            return objects.scale_of(_require_scale(rt), stored)
        return _served(rt, stored, deep=True)

    def _create_locked(self, rt: ResourceType, body: Any, namespace: str | None, *, dry_run: bool) -> Obj:
        meta = admission.check_body(rt, body).get("metadata") or {}
        namespace = admission.create_namespace(rt, namespace, meta)
        name = meta.get("name") or ""
        if not name and meta.get("generateName"):
            name = objects.generated_name(meta["generateName"], self._rng)
        candidate = {**body, "metadata": {**meta, "name": name}}
        problems = validation.validate_metadata(rt, candidate)
        if rt.storage_key == CRDS.storage_key:
            problems.extend(crds.validate_crd(candidate))
        if problems:
            raise errors.Invalid(rt.group_kind, name, problems)
        admission.admit_create(self._state, rt, namespace, name)
        key = _key(rt, namespace, name)
        if self._state.lookup(rt.storage_key, key) is not None:
            raise errors.AlreadyExists(rt.group_resource, name)
        now = self.clock.now()
        uid = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        obj = objects.prepare_create(rt, candidate, namespace=namespace, now=now, uid=uid)
        if rt.storage_key == CRDS.storage_key:
            finalizers = obj["metadata"].setdefault("finalizers", [])
            if crds.CLEANUP_FINALIZER not in finalizers:
                finalizers.append(crds.CLEANUP_FINALIZER)
            obj["status"] = crds.established_status(obj, now=objects.rfc3339(now))
        if dry_run:
            return obj
        stored = self._state.commit(rt, key, obj, None, "ADDED")
        if rt.storage_key == CRDS.storage_key:
            self._serve_crd(stored)
        return stored

    def _update_locked(
        self,
        rt: ResourceType,
        body: Any,
        namespace: str | None,
        url_name: str | None,
        subresource: str | None,
        *,
        dry_run: bool,
    ) -> Obj:
        if subresource == "scale":
            return self._update_scale_locked(rt, body, namespace, url_name, dry_run=dry_run)
        if (subresource == "status" and not rt.status_subresource) or (
            subresource == "finalize" and rt.storage_key != NAMESPACES.storage_key
        ):
            raise errors.RouteNotFound()
        meta = admission.check_body(rt, body).get("metadata") or {}
        namespace, name = admission.update_target(rt, namespace, url_name, meta)
        old = self._get_locked(rt, namespace, name)
        rv = meta.get("resourceVersion")
        if rv:
            if str(rv) != old["metadata"]["resourceVersion"]:
                raise errors.Conflict(rt.group_resource, name)
        elif rt.custom:
            required = errors.invalid_value("metadata.resourceVersion", 0, "must be specified for an update")
            raise errors.Invalid(rt.group_kind, name, [required])
        new = objects.prepare_update(rt, old, body, subresource=subresource)
        problems = validation.validate_metadata(rt, new)
        problems += validation.finalizer_problems(old["metadata"], new["metadata"])
        if rt.storage_key == CRDS.storage_key:
            problems.extend(crds.validate_crd(new))
        if problems:
            raise errors.Invalid(rt.group_kind, name, problems)
        return self._write_locked(rt, _key(rt, namespace, name), old, new, dry_run=dry_run)

    def _update_scale_locked(
        self, rt: ResourceType, body: Any, namespace: str | None, url_name: str | None, *, dry_run: bool
    ) -> Obj:
        _require_scale(rt)
        if not isinstance(body, dict):
            raise errors.BadRequest("the object provided is unrecognized (must be of type Scale)")
        meta = body.get("metadata") or {}
        name = url_name or meta.get("name") or ""
        old = self._get_locked(rt, namespace, name)
        rv = meta.get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise errors.Conflict(rt.group_resource, name)
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            invalid = errors.invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")
            raise errors.Invalid(errors.GroupKind("autoscaling", "Scale"), name, [invalid])
        new = objects.with_scale(rt, old, replicas)
        return self._write_locked(rt, _key(rt, namespace, name), old, new, dry_run=dry_run)

    def _write_locked(self, rt: ResourceType, key: ObjectKey, old: Obj, new: Obj, *, dry_run: bool) -> Obj:
        objects.bump_generation(rt, old, new)
        if objects.unchanged(old, new):
            return old
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if dry_run:
            return new
        if new["metadata"].get("deletionTimestamp") and self._deleter.finalizable(rt, key, new):
            return self._deleter.remove(rt, key, final=new)
        stored = self._state.commit(rt, key, new, old, "MODIFIED")
        if rt.storage_key == CRDS.storage_key:
            self._serve_crd(stored)
        return stored

    def _serve_crd(self, crd: Obj) -> None:
        """Serve exactly the versions a (created or updated) CRD declares."""
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        self.registry.replace(group, plural, crds.types_from_crd(crd))


def _key(rt: ResourceType, namespace: str | None, name: str) -> ObjectKey:
    return ((namespace or "") if rt.namespaced else "", name)


def _key_of(obj: Obj) -> ObjectKey:
    return (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])


def _served(rt: ResourceType, obj: Obj, *, deep: bool = False) -> Obj:
    """The object as served at ``rt``'s version: a deep copy, or a shallow one only when the version differs."""
    if deep:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        return out
    return obj if obj.get("apiVersion") == rt.api_version else {**obj, "apiVersion": rt.api_version}


def _require_scale(rt: ResourceType) -> ResourceType:
    if rt.scale is None:
        raise errors.RouteNotFound()
    return rt
