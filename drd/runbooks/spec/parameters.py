"""Binding a run's parameters: command-line strings (or typed values from an API) in, typed values out.

``-p replicas=3`` gives the integer 3, ``-p namespaces=a,b`` the list
``["a", "b"]``, ``-p dryRunOnly=true`` a boolean, ``-p maxAge=6h`` a
:class:`~datetime.timedelta`. Defaults fill what is not given; required
parameters, patterns, enum values and bounds are checked; every problem is
reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from drd.errors import ConfigError
from drd.policy.durations import format_duration, parse_duration
from drd.policy.frozen import FrozenMap
from drd.policy.names import short
from drd.runbooks.spec.models import ItemType, Parameter, ParameterType, Runbook

REDACTED = "<redacted>"
"""What a secret parameter is shown and stored as."""


class ParameterError(ConfigError):
    """The given parameters do not fit the runbook; ``problems`` has one ``name: message`` line each."""

    def __init__(self, runbook: str, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"runbook {runbook}: " + "; ".join(self.problems))


@dataclass(frozen=True)
class BoundParameters:
    """A run's typed parameter values, every declared parameter present (absent optional ones are None)."""

    values: Mapping[str, Any]
    """Parameter name → typed value (str, int, bool, timedelta, tuple, or None): what ``params`` reads."""
    secrets: frozenset[str] = field(default=frozenset())
    """The names of secret parameters."""

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def redacted(self) -> dict[str, Any]:
        """JSON-ready values (durations as ``1h30m``, lists as lists) with every secret as ``<redacted>``."""
        return {
            name: REDACTED if name in self.secrets and value is not None else to_json(value)
            for name, value in self.values.items()
        }


def to_json(value: Any) -> Any:
    """A bound value as JSON data; :func:`bind` accepts it back (for resuming a run)."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def bind(runbook: Runbook, given: Mapping[str, Any]) -> BoundParameters:
    """Typed values for every parameter of ``runbook``; :class:`ParameterError` lists every problem."""
    declared = runbook.spec.parameters
    problems = [
        f"{short(name)}: unknown parameter; {runbook.name} takes: {', '.join(declared) or 'no parameters'}"
        for name in given
        if name not in declared
    ]
    values: dict[str, Any] = {}
    for name, parameter in declared.items():
        raw = given.get(name, parameter.default)
        if raw is None:
            values[name] = None
            if parameter.required:
                problems.append(f"{name}: required; {describe(parameter)}")
            continue
        try:
            values[name] = coerce(parameter, raw)
        except ValueError as exc:
            where = "default" if name not in given else "value"
            problems.append(f"{name}: {exc}" if where == "value" else f"{name}: the default is invalid: {exc}")
    if problems:
        raise ParameterError(runbook.name, problems)
    secrets = frozenset(name for name, parameter in declared.items() if parameter.secret)
    return BoundParameters(FrozenMap(values), secrets)


def coerce(parameter: Parameter, raw: Any) -> Any:
    """``raw`` (a command-line string or a typed value) as the parameter's type; ValueError says what is accepted."""
    kind = parameter.type
    if kind is ParameterType.LIST:
        items = _split(raw)
        return tuple(_check(parameter, _scalar(parameter.item_type, item)) for item in items)
    if kind is ParameterType.ENUM:
        text = _string(raw)
        if text not in (parameter.values or ()):
            raise ValueError(f'"{short(text)}" is not one of: {", ".join(parameter.values or ())}')
        return text
    return _check(parameter, _scalar(ItemType(kind.value), raw))


def _split(raw: Any) -> list[Any]:
    if isinstance(raw, str):
        return [item.strip() for item in raw.split(",")] if raw.strip() else []
    if isinstance(raw, list | tuple):
        return list(raw)
    raise ValueError("expected a list, or comma-separated values")


def _scalar(kind: ItemType, raw: Any) -> Any:
    return _SCALARS[kind](raw)


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(f"expected true or false, got {_describe(raw)}")


def _integer(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*[-+]?[0-9]{1,18}\s*", raw):
        return int(raw)
    raise ValueError(f"expected an integer, got {_describe(raw)}")


def _duration(raw: Any) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, str):
        return parse_duration(raw.strip())
    raise ValueError(f"expected a duration such as 30m or 6h, got {_describe(raw)}")


def _string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {_describe(raw)}")  # noqa: TRY004 - callers catch ValueError
    return raw


_SCALARS: dict[ItemType, Callable[[Any], Any]] = {
    ItemType.STRING: _string,
    ItemType.BOOLEAN: _boolean,
    ItemType.INTEGER: _integer,
    ItemType.DURATION: _duration,
}


def _check(parameter: Parameter, value: Any) -> Any:
    """``value`` unchanged if it passes the parameter's pattern and bounds."""
    if parameter.pattern is not None and isinstance(value, str) and not re.search(parameter.pattern, value):
        shown = "the value" if parameter.secret else f'"{short(value)}"'
        raise ValueError(f"{shown} does not match {parameter.pattern}")
    if isinstance(value, int | timedelta) and not isinstance(value, bool):
        low = parameter.bound(parameter.minimum) if parameter.minimum is not None else None
        high = parameter.bound(parameter.maximum) if parameter.maximum is not None else None
        if low is not None and value < low:  # type: ignore[operator]
            raise ValueError(f"must be at least {parameter.minimum}, got {_describe(value)}")
        if high is not None and value > high:  # type: ignore[operator]
            raise ValueError(f"must be at most {parameter.maximum}, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, str):
        return f'"{short(value)}"'
    return short(repr(value))


def describe(parameter: Parameter) -> str:
    """The accepted form in words (``an integer from 0 to 50``), for messages and ``drd runbook show``."""
    kind = parameter.type
    if kind is ParameterType.ENUM:
        return "one of: " + ", ".join(parameter.values or ())
    if kind is ParameterType.LIST:
        return f"a comma-separated list of {parameter.item_type.value}s"
    text = {"string": "a string", "integer": "an integer", "boolean": "true or false", "duration": "a duration"}[kind]
    if parameter.minimum is not None or parameter.maximum is not None:
        text += f" from {parameter.minimum if parameter.minimum is not None else '…'}"
        text += f" to {parameter.maximum if parameter.maximum is not None else '…'}"
    if parameter.pattern is not None:
        text += f" matching {parameter.pattern}"
    return text
