"""The CEL of runbook expressions, over cel-python (``celpy``): compile once, read references, evaluate, convert.

CEL is the expression language Kubernetes uses (ValidatingAdmissionPolicy):
no loops, no I/O, no side effects. This module is the only one that imports
``celpy``. It compiles an expression once (cached by its text), finds what it
reads from the parse tree (``params.x``, ``steps['find-backup'].outputs.name``),
and evaluates it against plain Python values, converting to CEL's types and
back. An expression that is nothing but a reference (the common case,
``${{ params.cluster }}``) is resolved by a dictionary walk instead, which is
about a hundred times faster than the interpreter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import celpy
import lark
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, celstr

from drd.runbooks.spec.unknown import Unknown

Ref = tuple[str | int, ...]
"""A reference path: ``("params", "x")``, ``("steps", "find-backup", "outputs", "name")``."""

MAX_LENGTH = 4096
"""The longest expression accepted, in characters."""

MACROS = frozenset({"all", "exists", "exists_one", "filter", "map"})
"""CEL macros whose first argument binds a variable (``list.exists(x, x > 0)``)."""

_WRAPPERS = frozenset({"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary"})
_OPERATORS = {
    "relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">=", "relation_eq": "==",
    "relation_ne": "!=", "relation_in": "in", "addition_add": "+", "addition_sub": "-", "multiplication_mul": "*",
    "multiplication_div": "/", "multiplication_mod": "%", "unary_not": "!", "unary_neg": "-",
}  # fmt: skip
_OVERLOAD = re.compile(r"found no matching overload for Token\('RULE', '(\w+)'\) applied to '\((.*)\)'")
_CEL_TYPE = re.compile(r"<class 'celpy\.celtypes\.(\w+)Type'>")


class CelSyntaxError(ValueError):
    """An expression does not parse; the message says where."""


class CelEvalError(ValueError):
    """An expression failed while evaluating (missing key, wrong operand types, division by zero, …)."""


_LOCK = threading.Lock()
_ENVIRONMENT: celpy.Environment | None = None


def _environment() -> celpy.Environment:
    """The one CEL environment (celpy's parser is a process-wide singleton; it is created once, under a lock)."""
    global _ENVIRONMENT  # noqa: PLW0603 - one lazily built environment per process
    if _ENVIRONMENT is None:
        _ENVIRONMENT = celpy.Environment()
    return _ENVIRONMENT


@dataclass(frozen=True, eq=False)
class Program:
    """One compiled expression: its text, what it reads, and a runner that evaluates it."""

    text: str
    references: frozenset[Ref]
    """Every context path the expression reads, as far as it is static (``steps[x]`` gives ``("steps",)``)."""
    path: Ref | None
    """The expression is exactly this reference (``params.cluster``), so it is resolved without the interpreter."""
    _runner: celpy.Runner = field(repr=False)

    @property
    def roots(self) -> frozenset[str]:
        """The top-level names read (``params``, ``steps``, …)."""
        return frozenset(str(ref[0]) for ref in self.references)

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """The value for ``activation`` (names → CEL values), converted to plain Python."""
        try:
            result = self._runner.evaluate(dict(activation))
        except CELEvalError as exc:
            raise CelEvalError(_reason(exc)) from exc
        except (RecursionError, MemoryError) as exc:
            raise CelEvalError("the expression is too complex to evaluate") from exc
        except Exception as exc:  # celpy raises what its Python operations raise
            raise CelEvalError(f"cannot evaluate: {exc}") from exc
        if isinstance(result, CELEvalError):
            raise CelEvalError(_reason(result))
        return to_python(result)


@lru_cache(maxsize=4096)
def compile_cel(text: str) -> Program:
    """Compile ``text`` (the inside of ``${{ }}``); raises :class:`CelSyntaxError` naming the column."""
    if not text.strip():
        raise CelSyntaxError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise CelSyntaxError(f"the expression is longer than {MAX_LENGTH} characters")
    with _LOCK:
        environment = _environment()
        try:
            tree = environment.compile(text)
        except CELParseError as exc:
            where = f" at column {exc.column}" if exc.column and exc.column > 0 else " (it ends too early)"
            raise CelSyntaxError(f"syntax error{where}") from exc
        except RecursionError as exc:
            raise CelSyntaxError("the expression is nested too deeply") from exc
        runner = environment.program(tree)
    references, path = _analyse(tree)
    return Program(text=text, references=references, path=path, _runner=runner)


def _analyse(tree: lark.Tree[Any]) -> tuple[frozenset[Ref], Ref | None]:
    """The references of a parse tree, and the single reference the whole tree is, if it is one."""
    found: set[Ref] = set()
    bound: set[str] = set()

    def visit(node: lark.Tree[Any] | lark.Token) -> None:
        if isinstance(node, lark.Token):
            return
        if node.data == "member":
            chain = _chain(node, bound)
            if chain.root is not None:
                found.add((chain.root, *chain.parts))
            for rest in chain.rest:
                visit(rest)
            return
        for child in node.children:
            visit(child)

    visit(tree)
    references = frozenset(ref for ref in found if ref[0] not in bound)
    top = _unwrap(tree)
    path = None
    if top is not None and top.data == "member":
        chain = _chain(top, set())
        if chain.root is not None and chain.static and not chain.rest:
            path = (chain.root, *chain.parts)
    return references, path


@dataclass
class _Chain:
    """A ``member`` node read as ``root.part.part…``; ``rest`` are the subtrees it does not cover."""

    root: str | None
    parts: list[str | int] = field(default_factory=list)
    rest: list[lark.Tree[Any]] = field(default_factory=list)
    static: bool = True


def _chain(node: lark.Tree[Any], bound: set[str]) -> _Chain:
    (child,) = node.children
    kind, children = child.data, child.children
    if kind == "primary":
        (inner,) = children
        if inner.data == "ident":
            return _Chain(root=str(inner.children[0]))
        return _Chain(root=None, rest=[inner], static=False)
    chain = _chain(children[0], bound)
    if kind == "member_dot" and chain.static:
        chain.parts.append(str(children[1]))
    elif kind == "member_index":
        literal = _literal(children[1]) if chain.static else None
        if literal is None:
            chain.static = False
            chain.rest.append(children[1])
        else:
            chain.parts.append(literal)
    elif kind == "member_dot_arg":
        chain.static = False
        arguments = [item for item in children[2:] if isinstance(item, lark.Tree)]
        if str(children[1]) in MACROS and arguments:
            variable = _unwrap(arguments[0].children[0]) if arguments[0].children else None
            if variable is not None and variable.data == "member":
                bound.add(str(_chain(variable, bound).root))
        chain.rest.extend(arguments)
    elif kind != "member_dot":
        chain.static = False
        chain.rest.extend(item for item in children[1:] if isinstance(item, lark.Tree))
    return chain


def _unwrap(node: lark.Tree[Any] | lark.Token) -> lark.Tree[Any] | None:
    """The first node below ``node`` that is not a one-child wrapper (``expr`` → … → ``member``)."""
    while isinstance(node, lark.Tree) and node.data in _WRAPPERS and len(node.children) == 1:
        node = node.children[0]
    return node if isinstance(node, lark.Tree) else None


def _literal(node: lark.Tree[Any]) -> str | int | None:
    """The value of an index that is a string or integer literal (``['find-backup']``, ``[0]``), else None."""
    member = _unwrap(node)
    primary = member.children[0] if member is not None and member.data == "member" else None
    literal = primary.children[0] if primary is not None and primary.data == "primary" else None
    token = literal.children[0] if literal is not None and literal.data == "literal" else None
    if isinstance(token, lark.Token) and token.type == "STRING_LIT":
        return str(celstr(token))
    if isinstance(token, lark.Token) and token.type == "INT_LIT" and re.fullmatch(r"-?[0-9]+", token):
        return int(token)
    return None


def _reason(error: CELEvalError) -> str:
    """celpy's message, in words a runbook author can act on."""
    message = str(error.args[0]) if error.args else "evaluation failed"
    if message == "evaluation error" and len(error.args) > 2 and error.args[2]:
        message = str(error.args[2][0])
    match = _OVERLOAD.search(message)
    if match:
        operator = _OPERATORS.get(match.group(1), match.group(1))
        types = _CEL_TYPE.sub(lambda found: found.group(1).lower(), match.group(2))
        return f"operator {operator} cannot be applied to ({types})"
    return message


_TO_CEL: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (bool, celtypes.BoolType),
    (int, celtypes.IntType),
    (float, celtypes.DoubleType),
    (str, celtypes.StringType),
    (bytes, celtypes.BytesType),
    (datetime, celtypes.TimestampType),
    (timedelta, celtypes.DurationType),
    (Mapping, lambda value: celtypes.MapType({to_cel(key): to_cel(item) for key, item in value.items()})),
    ((list, tuple, set, frozenset), lambda value: celtypes.ListType([to_cel(item) for item in value])),
    (Unknown, lambda value: celtypes.StringType(str(value))),
)


def to_cel(value: Any) -> Any:
    """A plain Python value as a CEL value; an :class:`Unknown` becomes a placeholder string (it is never read)."""
    if value is None:
        return None
    for kinds, convert in _TO_CEL:
        if isinstance(value, kinds):
            return convert(value)
    raise CelEvalError(f"a {type(value).__name__} cannot be given to an expression")


_TO_PYTHON: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    (celtypes.NullType, lambda _: None),
    ((bool, celtypes.BoolType), bool),
    (int, int),
    (float, float),
    (str, str),
    (bytes, bytes),
    (datetime, lambda value: datetime.combine(value.date(), value.time(), value.tzinfo)),
    (timedelta, lambda value: timedelta(days=value.days, seconds=value.seconds, microseconds=value.microseconds)),
    (Mapping, lambda value: {to_python(key): to_python(item) for key, item in value.items()}),
    ((list, tuple), lambda value: [to_python(item) for item in value]),
    (Unknown, lambda value: value),
)


def to_python(value: Any) -> Any:
    """A CEL (or plain) value as plain Python: None, bool, int, float, str, bytes, datetime, timedelta, list, dict."""
    if value is None:
        return None
    for kinds, convert in _TO_PYTHON:
        if isinstance(value, kinds):
            return convert(value)
    raise CelEvalError(f"the result is a {type(value).__name__}, which a runbook cannot use")
