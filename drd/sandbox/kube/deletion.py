"""How objects go away: finalizers, namespace and CRD termination, owner-reference garbage collection.

* An object with finalizers is only marked (``deletionTimestamp``, grace period 0,
  generation bumped); it is removed when an update clears its last finalizer.
* A namespace is marked ``Terminating``, its content is deleted, and it is removed
  once nothing is left in it (objects holding finalizers keep it terminating).
* A CRD is marked, its custom resources are deleted, and once they are all gone it
  is removed and its resource is no longer served.
* Removing an object garbage-collects its dependents (objects whose
  ``ownerReferences`` name it): each is deleted unless another of its owners still
  exists, in which case only the dangling reference is dropped. ``Orphan`` strips
  the reference instead; ``Foreground`` deletes dependents before the owner.

All of this happens synchronously within the DELETE (or the update that removes the
last finalizer); the apiserver's namespace controller and garbage collector do it
asynchronously, a few milliseconds to seconds later.
"""

from __future__ import annotations

from typing import Any, Literal

from drd.clock import Clock
from drd.sandbox.kube import crds, errors, objects
from drd.sandbox.kube.events import CollectionKey
from drd.sandbox.kube.registry import CRDS, NAMESPACES, Registry, ResourceType
from drd.sandbox.kube.state import ClusterState, ObjectKey

Obj = dict[str, Any]
Propagation = Literal["Background", "Foreground", "Orphan"]

_CONTAINERS = (NAMESPACES.storage_key, CRDS.storage_key)


class Deleter:
    """Deletion semantics over a :class:`ClusterState`; callers hold the state's lock."""

    def __init__(self, state: ClusterState, registry: Registry, clock: Clock) -> None:
        self._state = state
        self._registry = registry
        self._clock = clock

    def delete(
        self,
        rt: ResourceType,
        key: ObjectKey,
        *,
        propagation: Propagation | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete one object: ``(its last state, whether it is gone)``; raises NotFound or Conflict."""
        obj = self._state.lookup(rt.storage_key, key)
        if obj is None:
            raise errors.NotFound(rt.group_resource, key[1])
        check_preconditions(rt, obj, preconditions)
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj, False
        is_container = rt.storage_key in _CONTAINERS
        if dry_run:
            return obj, not (meta.get("finalizers") or is_container)
        if propagation == "Orphan":
            for dependent_rt, dependent_key, dependent in self._dependents(meta["uid"]):
                self._strip_owner(dependent_rt, dependent_key, dependent, meta["uid"])
        elif propagation == "Foreground":
            self._collect(meta["uid"])
        if not (meta.get("finalizers") or is_container):
            return self.remove(rt, key, final=obj), True
        marked = self._state.commit(rt, key, objects.mark_deleting(obj, now=self._clock.now()), obj, "MODIFIED")
        if rt.storage_key == NAMESPACES.storage_key:
            self._purge_namespace(key[1])
        elif rt.storage_key == CRDS.storage_key:
            self._purge_custom_resources(marked)
        current = self._state.lookup(rt.storage_key, key)
        if current is None:
            return marked, True
        if self.finalizable(rt, key, current):
            return self.remove(rt, key, final=current), True
        return current, False

    def finalizable(self, rt: ResourceType, key: ObjectKey, obj: Obj) -> bool:
        """Whether a terminating object may go: no finalizers, and (namespaces, CRDs) nothing left inside.

        The CRD cleanup finalizer and the namespace ``kubernetes`` finalizer are the
        emulator's own: they are satisfied once the content is gone.
        """
        if [f for f in obj["metadata"].get("finalizers") or [] if f != crds.CLEANUP_FINALIZER]:
            return False
        if rt.storage_key == NAMESPACES.storage_key:
            extra = [f for f in (obj.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
            return not extra and not self._state.namespace_has_content(key[1])
        if rt.storage_key == CRDS.storage_key:
            return not self._state.has_objects(_served_collection(obj))
        return True

    def remove(self, rt: ResourceType, key: ObjectKey, *, final: Obj) -> Obj:
        """Remove an object for good: DELETED event, then garbage collection and container finalization."""
        current = self._state.lookup(rt.storage_key, key)
        assert current is not None
        gone = self._state.commit_delete(rt, key, final, current)
        uid = gone["metadata"]["uid"]
        self._collect(uid)
        self._state.forget_owner(uid)
        if rt.storage_key == CRDS.storage_key:
            group, plural = _served_collection(gone)
            self._registry.unregister(group, plural)
            self._state.drop_collection((group, plural))
        if rt.namespaced and key[0]:
            self._maybe_finalize(NAMESPACES, ("", key[0]))
        if rt.custom:
            self._maybe_finalize(CRDS, ("", f"{rt.plural}.{rt.group}"))
        return gone

    def _maybe_finalize(self, container: ResourceType, key: ObjectKey) -> None:
        obj = self._state.lookup(container.storage_key, key)
        if obj is not None and obj["metadata"].get("deletionTimestamp") and self.finalizable(container, key, obj):
            self.remove(container, key, final=obj)

    def _type_for(self, collection: CollectionKey) -> ResourceType | None:
        versions = self._registry.versions_of(*collection)
        return versions[0] if versions else None

    def _purge_namespace(self, namespace: str) -> None:
        for collection in self._state.collections():
            rt = self._type_for(collection)
            if rt is None or not rt.namespaced:
                continue
            for key in [k for k in self._state.items(collection) if k[0] == namespace]:
                if self._state.lookup(collection, key) is not None:
                    self.delete(rt, key, propagation="Background")

    def _purge_custom_resources(self, crd: Obj) -> None:
        collection = _served_collection(crd)
        rt = self._type_for(collection)
        if rt is None:
            return
        for key in self._state.items(collection):
            if self._state.lookup(collection, key) is not None:
                self.delete(rt, key, propagation="Background")

    def _dependents(self, owner_uid: str) -> list[tuple[ResourceType, ObjectKey, Obj]]:
        found = []
        for collection, key in self._state.owned_by(owner_uid):
            rt = self._type_for(collection)
            obj = self._state.lookup(collection, key)
            if rt is not None and obj is not None:
                found.append((rt, key, obj))
        return found

    def _strip_owner(self, rt: ResourceType, key: ObjectKey, obj: Obj, owner_uid: str) -> None:
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        meta = {k: v for k, v in obj["metadata"].items() if k != "ownerReferences"}
        if refs:
            meta["ownerReferences"] = refs
        self._state.commit(rt, key, {**obj, "metadata": meta}, obj, "MODIFIED")

    def _collect(self, owner_uid: str) -> None:
        """Garbage-collect the dependents of ``owner_uid``: delete each unless another of its owners lives."""
        for rt, key, obj in self._dependents(owner_uid):
            if obj["metadata"].get("deletionTimestamp"):
                continue
            others = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") not in (owner_uid, None)]
            if any(self._state.exists(r["uid"]) for r in others):
                self._strip_owner(rt, key, obj, owner_uid)
            else:
                self.delete(rt, key, propagation="Background")


def check_preconditions(rt: ResourceType, obj: Obj, preconditions: dict[str, str] | None) -> None:
    """409 Conflict when DeleteOptions preconditions (uid, resourceVersion) do not match."""
    if not preconditions:
        return
    meta = obj["metadata"]
    uid, rv = preconditions.get("uid"), preconditions.get("resourceVersion")
    if uid and uid != meta["uid"]:
        why = f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta['uid']}"
        raise errors.Conflict(rt.group_resource, meta["name"], why)
    if rv and rv != meta["resourceVersion"]:
        why = (
            f"Precondition failed: ResourceVersion in precondition: {rv}, "
            f"ResourceVersion in object meta: {meta['resourceVersion']}"
        )
        raise errors.Conflict(rt.group_resource, meta["name"], why)


def _served_collection(crd: Obj) -> CollectionKey:
    spec = crd.get("spec") or {}
    return (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
