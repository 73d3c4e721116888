"""The three PATCH flavours the apiserver accepts: JSON merge, strategic merge, JSON patch.

* RFC 7386 merge patch (``application/merge-patch+json``): maps merge recursively,
  ``null`` deletes, anything else (lists included) replaces.
* Strategic merge patch (``application/strategic-merge-patch+json``, built-in
  types only): a merge patch in which the lists Kubernetes declares
  ``patchStrategy: merge`` are merged item by item on their ``patchMergeKey``
  (:data:`MERGE_KEYS`: containers/env/volumes by ``name``, container ports by
  ``containerPort``, conditions by ``type``...), ``metadata.finalizers`` is merged
  as a set, and the ``$patch`` (``replace``/``delete``), ``$retainKeys``,
  ``$deleteFromPrimitiveList/<field>`` and ``$setElementOrder/<field>`` directives
  are honoured. The real apiserver reads these keys from the Go struct tags of
  every type; the table here covers the common ones — any list not in it is
  replaced, as in a merge patch.
* RFC 6902 JSON patch (``application/json-patch+json``): add, remove, replace,
  move, copy, test.

All functions return new structures and never modify their inputs. :func:`apply`
is the entry point with the apiserver's error behaviour (which body shapes are
refused, and how).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from drd.sandbox.kube import errors

MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "secrets": "name",
    "ports": "containerPort",  # Service ports merge on "port": see _merge_key
}
"""Lists merged item by item in a strategic merge patch, with the field that identifies an item."""

SET_LISTS: frozenset[str] = frozenset({"finalizers"})
"""Lists of scalars merged as sets (``patchStrategy: merge`` on a primitive list)."""


class PatchError(ValueError):
    """A patch cannot be applied to the document (the apiserver answers 422)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch (see the module docstring for what is supported)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    return _smp_map(copy.deepcopy(target) if isinstance(target, dict) else {}, patch)


def _smp_map(result: dict[str, Any], patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in value]
        else:
            _smp_field(result, key, value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _apply_order(field, result[field], order)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_field(result: dict[str, Any], key: str, value: Any) -> None:
    current = result.get(key)
    if isinstance(value, dict):
        value = _smp_map(copy.deepcopy(current) if isinstance(current, dict) else {}, value)
    elif isinstance(value, list):
        value = _smp_list(key, current if isinstance(current, list) else [], value)
    else:
        value = copy.deepcopy(value)
    if value is None:
        result.pop(key, None)
    else:
        result[key] = value


def _merge_key(field: str, items: list[Any]) -> str | None:
    key = MERGE_KEYS.get(field)
    if field == "ports" and not any(isinstance(i, dict) and "containerPort" in i for i in items):
        return "port"
    return key


def _smp_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in SET_LISTS and all(not isinstance(i, dict | list) for i in patch):
        merged = list(current)
        merged.extend(i for i in patch if i not in merged)
        return merged
    key = _merge_key(field, current + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [copy.deepcopy(i) for i in patch]
    result = [copy.deepcopy(i) for i in current]
    for item in patch:
        index = next(
            (
                n
                for n, existing in enumerate(result)
                if isinstance(existing, dict) and existing.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(_smp_map({}, item))
        else:
            result[index] = _smp_map(result[index], item)
    return result


def _apply_order(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, items)

    def identity(item: Any) -> Any:
        if key is not None and isinstance(item, dict):
            return item.get(key)
        return item

    wanted = [identity(o) if isinstance(o, dict) else o for o in order]
    positions = {value: n for n, value in enumerate(wanted) if not isinstance(value, dict | list)}
    return sorted(items, key=lambda i: positions.get(identity(i), len(positions)))


def json_patch(target: Any, operations: list[Any]) -> Any:
    """Apply an RFC 6902 JSON patch; raises :class:`PatchError` on a failed op or ``test``."""
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError(f"Unexpected kind: {op!r}")
        kind = op["op"]
        path = _pointer(op.get("path"))
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(_value(op)))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(_value(op)))
        elif kind == "move":
            source = _pointer(op.get("from"))
            doc, moved = _remove(doc, source)
            doc = _add(doc, path, moved)
        elif kind == "copy":
            source = _pointer(op.get("from"))
            doc = _add(doc, path, copy.deepcopy(_get(doc, source)))
        elif kind == "test":
            if _get(doc, path) != _value(op):
                raise PatchError(f"testing value {op.get('path')} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise PatchError(f"missing value for op {op['op']}")
    return op["value"]


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, path: list[str]) -> Any:
    node = doc
    for step in path[:-1]:
        node = _child(node, step)
    return node


def _child(node: Any, step: str) -> Any:
    if isinstance(node, dict):
        if step not in node:
            raise PatchError(f"doc is missing path: {step}")
        return node[step]
    if isinstance(node, list):
        return node[_index(node, step, allow_end=False)]
    raise PatchError(f"doc is missing path: {step}")


def _index(node: list[Any], step: str, *, allow_end: bool) -> int:
    if step == "-" and allow_end:
        return len(node)
    if not step.isdigit() or (len(step) > 1 and step.startswith("0")):
        raise PatchError(f"invalid array index: {step}")
    index = int(step)
    if index > len(node) or (index == len(node) and not allow_end):
        raise PatchError(f"index out of range: {index}")
    return index


def _get(doc: Any, path: list[str]) -> Any:
    node = doc
    for step in path:
        node = _child(node, step)
    return node


def _add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _parent(doc, path)
    last = path[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {'/'.join(path)}")
    return doc


def _remove(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        return None, doc
    parent = _parent(doc, path)
    last = path[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"remove operation does not apply: doc is missing path: /{'/'.join(path)}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise PatchError(f"remove operation does not apply: doc is missing path: /{'/'.join(path)}")


PatchType = Literal["merge", "strategic", "json"]
"""The PATCH flavours: ``application/merge-patch+json``, ``strategic-merge-patch+json``, ``json-patch+json``."""


def apply(base: Any, patch: Any, patch_type: PatchType, *, custom: bool) -> Any:
    """Apply a PATCH body as the apiserver does, raising its errors.

    A JSON patch must be a list (400 otherwise) and a failing operation is the
    generic 422; a merge or strategic patch must be an object — a list, which is
    what CustomObjectsApi sends when given JSON-patch operations without
    ``_content_type``, is the 422 a real apiserver answers; custom resources
    refuse strategic merge with 415.
    """
    if patch_type == "json":
        if not isinstance(patch, list):
            raise errors.BadRequest(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type jsonpatch.Patch")
        try:
            return json_patch(base, patch)
        except PatchError as e:
            raise errors.GenericInvalid() from e
    if not isinstance(patch, dict):
        go_type = (
            'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
        detail = (
            f"couldn't get version/kind; json parse error: json: cannot unmarshal {_json_kind(patch)} "
            f"into Go value of type {go_type}"
        )
        raw = json.dumps(patch, separators=(",", ":"))
        raise errors.Invalid(errors.GroupKind("", ""), "", [errors.invalid_value("patch", raw, detail)])
    if patch_type == "strategic":
        if custom:
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )
        return strategic_merge_patch(base, patch)
    return merge_patch(base, patch)


def _json_kind(value: Any) -> str:
    """The JSON type name Go's decoder reports (``array``, ``object``...)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "null" if value is None else "number"
