"""Label and field selectors: parsing the query-string forms and matching objects.

Label selectors follow ``k8s.io/apimachinery/pkg/labels``: ``=``, ``==``, ``!=``,
``in (...)``, ``notin (...)``, ``key``, ``!key``, plus ``>``/``<`` on integers.
Structured ``metav1.LabelSelector`` dicts (``matchLabels``/``matchExpressions``)
compile to the same requirements, which simulators use to match pods to workloads.

Field selectors accept ``=``, ``==`` and ``!=`` on *any* dotted path
(``status.phase``, ``involvedObject.name``); a missing field reads as ``""``.
A real apiserver only accepts a per-resource list of field labels and answers 400
for others — the emulator is deliberately more permissive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from drd.sandbox.kube.errors import BadRequest
from drd.sandbox.kube.validation import label_value_problems, qualified_name_problems

Operator = Literal["=", "!=", "in", "notin", "exists", "!", "gt", "lt"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One label requirement: ``key <operator> values``."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this requirement."""
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in ("=", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator in ("exists", "!"):
            return present == (self.operator == "exists")
        try:
            number = int(value or "")
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.operator == "gt" else number < bound

    def __str__(self) -> str:
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(sorted(self.values))})"
        if self.operator in ("exists", "!"):
            return self.key if self.operator == "exists" else f"!{self.key}"
        symbol = {"=": "=", "!=": "!=", "gt": ">", "lt": "<"}[self.operator]
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether a label set satisfies every requirement."""
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def matches_object(self, obj: Mapping[str, Any]) -> bool:
        """Whether an object's ``metadata.labels`` satisfy the selector."""
        return self.matches((obj.get("metadata") or {}).get("labels"))

    def __str__(self) -> str:
        return ",".join(str(r) for r in sorted(self.requirements, key=lambda r: r.key))

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        """Parse the ``labelSelector`` query-parameter syntax; raises :class:`BadRequest`."""
        if not text or not text.strip():
            return cls()
        return cls(tuple(_parse_requirement(part) for part in _split_top_level(text)))

    @classmethod
    def from_dict(cls, selector: Mapping[str, Any] | None) -> LabelSelector:
        """Compile a structured ``metav1.LabelSelector`` (``matchLabels`` + ``matchExpressions``)."""
        if not selector:
            return cls()
        reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
        ops: dict[str, Operator] = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
        for expr in selector.get("matchExpressions") or []:
            op = ops.get(expr.get("operator", ""))
            if op is None:
                raise BadRequest(f"{expr.get('operator')!r} is not a valid label selector operator")
            reqs.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
        return cls(tuple(reqs))


_SET_RE = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_OP_RE = re.compile(r"^(?P<key>[^\s!=<>(),]+)\s*(?P<op>==|=|!=|<|>)\s*(?P<value>[^\s!=<>(),]*)$")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _check_key(key: str) -> None:
    problems = qualified_name_problems(key)
    if problems:
        raise BadRequest(f'unable to parse requirement: key: Invalid value: "{key}": {problems[0]}')


def _check_values(key: str, values: tuple[str, ...]) -> None:
    for i, value in enumerate(values):
        problems = label_value_problems(value)
        if problems:
            raise BadRequest(
                f'unable to parse requirement: values[{i}][{key}]: Invalid value: "{value}": {problems[0]}'
            )


def _parse_requirement(part: str) -> Requirement:
    if not part:
        raise BadRequest("unable to parse requirement: found '', expected: identifier")
    if part.startswith("!"):
        key = part[1:].strip()
        _check_key(key)
        return Requirement(key, "!")
    if m := _SET_RE.match(part):
        values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
        if not values and m["op"] == "in":
            raise BadRequest("unable to parse requirement: for 'in', 'notin' operators, values set can't be empty")
        _check_key(m["key"])
        _check_values(m["key"], values)
        return Requirement(m["key"], "in" if m["op"] == "in" else "notin", values)
    if m := _OP_RE.match(part):
        _check_key(m["key"])
        value = m["value"]
        if m["op"] in ("<", ">"):
            if not re.fullmatch(r"-?\d+", value):
                raise BadRequest(
                    f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {value}"
                )
            return Requirement(m["key"], "gt" if m["op"] == ">" else "lt", (value,))
        _check_values(m["key"], (value,))
        return Requirement(m["key"], "!=" if m["op"] == "!=" else "=", (value,))
    if re.fullmatch(r"[^\s!=<>(),]+", part):
        _check_key(part)
        return Requirement(part, "exists")
    raise BadRequest(f"unable to parse requirement: found '{part}', expected: ',' or 'end of string'")


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``path = value`` or ``path != value`` on a dotted field path."""

    path: str
    negate: bool
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's field (``""`` when absent) compares as required."""
        actual = field_value(obj, self.path)
        return (actual != self.value) if self.negate else (actual == self.value)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of field requirements."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object satisfies every requirement."""
        return all(r.matches(obj) for r in self.requirements)

    def exact_name(self) -> str | None:
        """The name pinned by ``metadata.name=...``, if any (lets a list skip a full scan)."""
        for r in self.requirements:
            if r.path == "metadata.name" and not r.negate:
                return r.value
        return None

    @classmethod
    def parse(cls, text: str | None) -> FieldSelector:
        """Parse the ``fieldSelector`` query-parameter syntax; raises :class:`BadRequest`."""
        if not text or not text.strip():
            return cls()
        reqs = []
        for part in _split_unescaped(text, ","):
            reqs.append(_parse_field_requirement(part))
        return cls(tuple(reqs))


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _parse_field_requirement(part: str) -> FieldRequirement:
    i = 0
    while i < len(part):
        if part[i] == "\\":
            i += 2
            continue
        for op, negate in (("!=", True), ("==", False), ("=", False)):
            if part.startswith(op, i):
                path, value = part[:i].strip(), part[i + len(op) :].strip()
                if not path:
                    break
                return FieldRequirement(path, negate, _unescape(value))
        else:
            i += 1
            continue
        break
    raise BadRequest(f"invalid selector: '{part}'; can't understand '{part}'")


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string form of the field at a dotted path; ``""`` when any step is missing."""
    current: Any = obj
    for step in path.split("."):
        if not isinstance(current, Mapping) or step not in current:
            return ""
        current = current[step]
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, str):
        return current
    return str(current)
