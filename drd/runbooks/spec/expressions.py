"""Templates: YAML values with ``${{ <CEL> }}`` expressions, compiled once and rendered against a run's context.

A string that is exactly one expression (surrounding whitespace aside) keeps
the expression's type, so ``replicas: "${{ params.replicas }}"`` is an integer.
Any other string containing expressions is interpolation: each expression is
turned into text (booleans as ``true``/``false``, durations as ``1h30m``,
lists and maps as JSON, null as nothing). Mapping keys may hold expressions
too; they must render to strings.

The names an expression sees are ``params``, ``steps`` (``steps['id'].outputs.name``,
``steps['id'].status``), ``run`` (``id``, ``trigger``, ``requestedBy``,
``startedAt``) and ``target`` (``cluster``, ``namespace``). Rendering a value
that reads an :class:`~drd.runbooks.spec.unknown.Unknown` gives an ``Unknown``
(a dry run shows "depends on unknown") instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from drd.policy.durations import format_duration
from drd.policy.locations import Loc
from drd.runbooks.spec import cel
from drd.runbooks.spec.cel import Ref
from drd.runbooks.spec.syntax import OPEN, ExpressionError, split
from drd.runbooks.spec.unknown import Unknown, combine, unknowns

__all__ = [
    "ROOTS",
    "Context",
    "ExpressionError",
    "StepStatus",
    "Template",
    "compile_template",
    "reference_text",
    "step_states",
    "to_text",
]

ROOTS = ("params", "steps", "run", "target")
"""The names an expression may read."""


class StepStatus(StrEnum):
    """What ``steps['<id>'].status`` reads."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    """Failed, and the run went on (``onFailure: continue``) or reached ``finally``."""
    SKIPPED = "Skipped"
    """Its ``when`` was false."""
    NOT_RUN = "NotRun"
    """The run ended before reaching it (seen by ``finally`` steps and outputs)."""


def step_states(step_ids: Iterable[str], reached: Mapping[str, Any]) -> dict[str, Any]:
    """``steps`` for a :class:`Context`: every id, those not in ``reached`` as ``NotRun`` without outputs.

    ``finally`` steps and run outputs may read any step, including one the run
    never reached; this keeps ``steps['x'].status`` defined for them.
    """
    return {step_id: reached.get(step_id, {"status": StepStatus.NOT_RUN.value, "outputs": {}}) for step_id in step_ids}


@dataclass(frozen=True)
class Context:
    """What expressions read during one render: plain Python values (and Unknowns), converted to CEL on demand.

    ``steps`` maps every step id of the runbook to ``{"status": <StepStatus>,
    "outputs": {...}}`` (empty outputs unless it succeeded); ``run`` holds
    ``id``, ``trigger``, ``requestedBy`` and ``startedAt`` (a datetime);
    ``target`` holds ``cluster`` and ``namespace`` (None for a cluster lock).
    Build one per step (outputs change as the run goes); conversions to CEL
    are cached per context.
    """

    params: Mapping[str, Any] = field(default_factory=dict)
    steps: Mapping[str, Any] = field(default_factory=dict)
    run: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, Any] = field(default_factory=dict)
    _cel: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, names: Context | Mapping[str, Any]) -> Context:
        """``names`` as a context (a mapping with any of the keys params, steps, run, target)."""
        if isinstance(names, Context):
            return names
        unknown = set(names) - set(ROOTS)
        if unknown:
            raise ValueError(f"unknown context names {sorted(unknown)}; expected {', '.join(ROOTS)}")
        return cls(**{name: names[name] for name in ROOTS if name in names})

    def root(self, name: str) -> Any:
        """The plain value of one top-level name."""
        value: Any = getattr(self, name)
        return value

    def activation(self, names: frozenset[str]) -> dict[str, Any]:
        """The CEL values of ``names`` (only those an expression reads are converted)."""
        for name in names - self._cel.keys():
            self._cel[name] = cel.to_cel(self.root(name))
        return {name: self._cel[name] for name in names}


class _Node:
    """A compiled piece of a template."""

    __slots__ = ()

    def render(self, context: Context) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Static(_Node):
    value: Any

    def render(self, context: Context) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class _Expression(_Node):
    program: cel.Program
    path: Loc

    def render(self, context: Context) -> Any:
        return _evaluate(self.program, context, self.path)


@dataclass(frozen=True, slots=True)
class _Interpolation(_Node):
    parts: tuple[str | cel.Program, ...]
    path: Loc

    def render(self, context: Context) -> Any:
        values = [part if isinstance(part, str) else _evaluate(part, context, self.path) for part in self.parts]
        missing = [item for item in values if isinstance(item, Unknown)]
        if missing:
            return combine(missing)
        return "".join(value if isinstance(value, str) else to_text(value) for value in values)


@dataclass(frozen=True, slots=True)
class _List(_Node):
    items: tuple[_Node, ...]

    def render(self, context: Context) -> Any:
        return [item.render(context) for item in self.items]


@dataclass(frozen=True, slots=True)
class _Map(_Node):
    items: tuple[tuple[Any, _Node, _Node], ...]
    """``(key as written, compiled key, compiled value)``."""
    path: Loc

    def render(self, context: Context) -> Any:
        result: dict[Any, Any] = {}
        for written, key_node, value_node in self.items:
            key = key_node.render(context)
            if isinstance(key, Unknown):
                return key
            if not isinstance(key, str) and not isinstance(key_node, _Static):
                raise ExpressionError(
                    f"a mapping key must be a string, got {_kind(key)}", expression=str(written), path=self.path
                )
            result[key] = value_node.render(context)
        return result


class Template:
    """A compiled YAML value. ``source`` is the value as written; :meth:`render` evaluates its expressions."""

    __slots__ = ("_hash", "_root", "references", "source")

    def __init__(self, source: Any) -> None:
        self.source = source
        self._root = _compile(source, ())
        self.references: frozenset[Ref] = frozenset(
            ref for program in _programs(self._root) for ref in program.references
        )
        """Every context path the expressions read (``("params", "x")``, ``("steps", "a", "outputs", "name")``)."""
        self._hash = hash(json.dumps(source, sort_keys=True, default=str))

    @property
    def is_static(self) -> bool:
        """The value holds no expression."""
        return isinstance(self._root, _Static)

    @property
    def is_single_expression(self) -> bool:
        """The value is a string that is exactly one expression (its result keeps its type)."""
        return isinstance(self._root, _Expression)

    @property
    def expressions(self) -> tuple[str, ...]:
        """The text of every expression, in order."""
        return tuple(program.text for program in _programs(self._root))

    def render(self, context: Context | Mapping[str, Any]) -> Any:
        """The value with every expression evaluated: plain Python, with :class:`Unknown` where inputs are unknown.

        Raises :class:`ExpressionError` when an expression fails (a missing
        key, operands of the wrong type, …).
        """
        return self._root.render(Context.of(context))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and self.source == other.source

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def __str__(self) -> str:
        """The value as written: a string as it is, anything else as JSON (for tables and messages)."""
        return self.source if isinstance(self.source, str) else json.dumps(self.source, default=str)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate, serialization=core_schema.plain_serializer_function_ser_schema(lambda value: value.source)
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"description": "A value; strings may contain ${{ CEL }} expressions."}


def _validate(value: Any) -> Template:
    """Pydantic's validator: a template of ``value``; a syntax error is a validation error of kind ``expression``."""
    if isinstance(value, Template):
        return value
    try:
        return compile_template(value)
    except ExpressionError as exc:
        raise PydanticCustomError("expression", "{reason}", {"reason": str(exc)}) from exc


def compile_template(value: Any) -> Template:
    """Compile every expression in ``value`` (any YAML value); raises :class:`ExpressionError` on a syntax error."""
    return Template(value)


def _compile(value: Any, path: Loc) -> _Node:
    if isinstance(value, str):
        return _compile_string(value, path)
    if isinstance(value, Mapping):
        items = tuple(
            (key, _compile(key, (*path, str(key))), _compile(item, (*path, str(key)))) for key, item in value.items()
        )
        if all(isinstance(key, _Static) and isinstance(item, _Static) for _, key, item in items):
            return _Static(value)
        return _Map(items, path)
    if isinstance(value, list | tuple):
        nodes = tuple(_compile(item, (*path, index)) for index, item in enumerate(value))
        return _Static(value) if all(isinstance(node, _Static) for node in nodes) else _List(nodes)
    return _Static(value)


def _compile_string(text: str, path: Loc) -> _Node:
    if OPEN not in text:
        return _Static(text)
    parts: list[str | cel.Program] = []
    for literal, expression in split(text, path):
        if literal:
            parts.append(literal)
        if expression is not None:
            try:
                parts.append(cel.compile_cel(expression))
            except cel.CelSyntaxError as exc:
                raise ExpressionError(str(exc), expression=expression, path=path) from exc
    programs = [part for part in parts if isinstance(part, cel.Program)]
    if len(programs) == 1 and all(isinstance(part, cel.Program) or not part.strip() for part in parts):
        return _Expression(programs[0], path)
    return _Interpolation(tuple(parts), path)


def _programs(node: _Node) -> Iterator[cel.Program]:
    if isinstance(node, _Expression):
        yield node.program
    elif isinstance(node, _Interpolation):
        yield from (part for part in node.parts if isinstance(part, cel.Program))
    elif isinstance(node, _List):
        for item in node.items:
            yield from _programs(item)
    elif isinstance(node, _Map):
        for _, key, item in node.items:
            yield from _programs(key)
            yield from _programs(item)


_MISSING = object()


def _evaluate(program: cel.Program, context: Context, path: Loc) -> Any:
    """One expression's value, or an Unknown when it reads one; errors name the expression."""
    found: list[Unknown] = []
    for ref in program.references:
        if ref[0] not in ROOTS:
            raise ExpressionError(
                f'unknown name "{ref[0]}"; expressions read {", ".join(ROOTS)}', expression=program.text, path=path
            )
        value = _walk(context.root(str(ref[0])), ref[1:], found)
        if program.path is None and value is not _MISSING and not isinstance(value, Unknown):
            found.extend(unknowns(value))  # the interpreter may read anything below a reference
    if found:
        return combine(found)
    try:
        if program.path is not None:
            return _resolve(program.path, context)
        return program.evaluate(context.activation(program.roots))
    except cel.CelEvalError as exc:
        raise ExpressionError(str(exc), expression=program.text, path=path) from exc


def _walk(value: Any, parts: tuple[str | int, ...], found: list[Unknown]) -> Any:
    """Follow ``parts`` into ``value``; record an Unknown met on the way; ``_MISSING`` if the path is absent."""
    for part in parts:
        if isinstance(value, Unknown):
            found.append(value)
            return _MISSING
        if not _has(value, part):
            return _MISSING
        value = value[part]
    if isinstance(value, Unknown):
        found.append(value)
    return value


def _has(value: Any, part: str | int) -> bool:
    """Whether ``value[part]`` exists (a mapping key, or an index into a list)."""
    if isinstance(value, Mapping):
        return part in value
    return isinstance(value, list | tuple) and isinstance(part, int) and -len(value) <= part < len(value)


def _resolve(path: Ref, context: Context) -> Any:
    """The value at a reference path, as plain Python; a missing key says which."""
    value = context.root(str(path[0]))
    for depth, part in enumerate(path[1:], start=1):
        if _has(value, part):
            value = value[part]
        else:
            where = _ref_text(path[:depth])
            if isinstance(value, Mapping):
                raise cel.CelEvalError(f'{where} has no "{part}"' + _known(value))
            raise cel.CelEvalError(f"{where} is {_kind(value)}, it has no [{part!r}]")
    return cel.to_python(value)


def _known(value: Mapping[Any, Any]) -> str:
    keys = sorted(str(key) for key in value)
    if not keys:
        return " (it is empty)"
    shown = ", ".join(keys[:20]) + (", …" if len(keys) > 20 else "")
    return f" (it has: {shown})"


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (Mapping, "a mapping"),
)


def _kind(value: Any) -> str:
    """A value's type in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    return next((words for kinds, words in _KINDS if isinstance(value, kinds)), f"a {type(value).__name__}")


def _ref_text(ref: Ref) -> str:
    """``("steps", "find-backup", "outputs")`` → ``steps['find-backup'].outputs``."""
    out = str(ref[0])
    for part in ref[1:]:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"['{part}']"
    return out


def reference_text(ref: Ref) -> str:
    """How a reference is written in an expression (``steps['find-backup'].outputs.name``)."""
    return _ref_text(ref)


def to_text(value: Any) -> str:
    """How an interpolated value is written: true/false, 1h30m, ISO times, JSON for lists and maps, null as ""."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta) and value >= timedelta(0) and not value.microseconds:
        return format_duration(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | dict):
        return json.dumps(value, default=to_text, ensure_ascii=False)
    return str(value)
