"""Pydantic's validation errors, rewritten as located messages that state the accepted form.

Pydantic reports ``('spec', 'verify', 2, 'http', 'port')`` and "Input should
be a valid integer"; users need ``spec.verify[2].port: expected an integer
from 1 to 65535, got the string "http"``. This module walks the model's
annotations along the error location to learn what was expected there (the
fields of a mapping, the values of an enum, the tags of a union), drops the
union tags pydantic inserts, and words the common errors itself. Messages
quote at most 40 characters of any input.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Callable, Mapping
from datetime import date, timedelta, tzinfo
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from drd.policy.durations import ACCEPTED as DURATION_FORM
from drd.policy.locations import Loc
from drd.policy.names import Matches, short
from drd.policy.schedule import ACCEPTED as SCHEDULE_FORM
from drd.policy.schedule import Schedule

_WRONG_TYPE = {
    "string_type", "int_type", "int_parsing", "int_from_float", "bool_type", "bool_parsing", "float_type",
    "float_parsing", "model_type", "model_attributes_type", "dict_type", "mapping_type", "list_type", "tuple_type",
    "is_instance_of", "none_required", "literal_error", "enum", "finite_number",
}  # fmt: skip
_BOUNDS = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
}


def translate(error: ValidationError, model: type[BaseModel]) -> list[tuple[Loc, str]]:
    """Every error of ``error`` (raised validating ``model``) as ``(location, message)``; locations use YAML keys."""
    return [_translate_one(details, model) for details in error.errors(include_url=False)]


def _translate_one(details: ErrorDetails, model: type[BaseModel]) -> tuple[Loc, str]:
    raw = tuple(details["loc"])
    loc, expected = _walk(model, raw)
    kind, value, ctx = details["type"], details.get("input"), details.get("ctx") or {}
    match kind:
        case "missing":
            message = f"required field is missing; expected {_form(expected)}"
        case "extra_forbidden":
            message = _unknown_field(str(loc[-1]), _unwrap(_walk(model, raw[:-1])[1]))
        case "union_tag_not_found":
            message = f'missing "type"; accepted types: {", ".join(_tags(_unwrap(expected)))}'
        case "union_tag_invalid":
            tags = ", ".join(_tags(_unwrap(expected)))
            message = f'unknown type "{short(str(ctx.get("tag")))}"; accepted types: {tags}'
        case _ if kind in _WRONG_TYPE:
            message = f"expected {_form(expected)}, got {_describe(value)}{_hint(expected, value)}"
        case _ if kind in _BOUNDS:
            message = f"must be {_BOUNDS[kind].format(**ctx)}, got {_describe(value)}"
        case "too_short":
            message = f"needs at least {ctx.get('min_length')} item(s)"
        case "too_long":
            message = f"needs at most {ctx.get('max_length')} item(s)"
        case "string_too_long":
            message = f"must be at most {ctx.get('max_length')} characters long"
        case "value_error" | "assertion_error" | "policy_rule" if "error" in ctx or "reason" in ctx:
            message = str(ctx.get("error", ctx.get("reason")))
        case _:
            message = _sentence(details["msg"])
    return loc, message


def _walk(model: type[BaseModel], raw: Loc) -> tuple[Loc, Any]:
    """The location without union tags and ``[key]`` markers, and the annotation expected at its end."""
    expected: Any = model
    clean: list[str | int] = []
    for part in raw:
        current = _unwrap(expected)
        if part == "[key]":
            expected = str
            continue
        if isinstance(part, str) and part in _tags(current):
            expected = _member(current, part)
            continue
        if _is_model(current) and isinstance(part, str):
            expected = _field_annotation(current, part)
        elif get_origin(current) in (tuple, list) and isinstance(part, int):
            expected = get_args(current)[0]
        elif get_origin(current) is Mapping:
            expected = get_args(current)[1]
        else:
            expected = Any
        clean.append(part)
    return tuple(clean), expected


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None``; a union of several models stays a union."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (info.alias, name):
            return info.rebuild_annotation()
    return Any


def _union_models(annotation: Any) -> list[type[BaseModel]]:
    if get_origin(annotation) not in (Union, types.UnionType):
        return []
    return [member for member in map(_unwrap, get_args(annotation)) if _is_model(member)]


def _tag(model: type[BaseModel]) -> str | None:
    info = model.model_fields.get("type")
    args = get_args(info.annotation) if info else ()
    return str(args[0]) if len(args) == 1 else None


def _tags(annotation: Any) -> list[str]:
    return sorted(tag for tag in map(_tag, _union_models(annotation)) if tag)


def _member(annotation: Any, tag: str) -> Any:
    return next(model for model in _union_models(annotation) if _tag(model) == tag)


def _aliases(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _unknown_field(key: str, parent: Any) -> str:
    if not _is_model(parent):
        return "unknown field"
    known = _aliases(parent)
    close = difflib.get_close_matches(key, known, n=1) or [
        name for name in known if name.lower() == key.replace("_", "").lower()
    ]
    suggestion = f'; did you mean "{close[0]}"?' if close else ""
    return f"unknown field; known fields are: {', '.join(known)}{suggestion}"


_SIMPLE_FORMS: dict[Any, str] = {
    timedelta: f"a duration: {DURATION_FORM}",
    Schedule: f"a schedule: {SCHEDULE_FORM}",
    tzinfo: "a time zone such as UTC or Europe/Berlin",
    bool: "true or false",
    int: "an integer",
    str: "a string",
    dict: "a mapping of names to values",
}


def _form(annotation: Any) -> str:
    """What a value of ``annotation`` looks like, in words."""
    matches = _matches(annotation)
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if matches is not None:
        form = matches.accepted
    elif annotation in _SIMPLE_FORMS:
        form = _SIMPLE_FORMS[annotation]
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        form = "one of: " + ", ".join(str(member.value) for member in annotation)
    elif origin is Literal:
        form = "one of: " + ", ".join(str(arg) for arg in get_args(annotation))
    elif _is_model(annotation):
        form = "a mapping with fields: " + ", ".join(_aliases(annotation))
    elif _union_models(annotation):
        form = "a mapping with a type: " + ", ".join(_tags(annotation))
    elif origin in (tuple, list):
        form = "a list"
    elif origin is Mapping:
        form = _SIMPLE_FORMS[dict]
    else:
        form = f"a {annotation.__name__}" if isinstance(annotation, type) else "a valid value"
    return form


def _matches(annotation: Any) -> Matches | None:
    """The :class:`~drd.policy.names.Matches` rule of a constrained string type, if ``annotation`` is one."""
    if get_origin(annotation) is Annotated:
        return next((meta for meta in annotation.__metadata__ if isinstance(meta, Matches)), None)
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _matches(members[0]) if len(members) == 1 else None
    return None


_DESCRIPTIONS: tuple[tuple[type | tuple[type, ...], Callable[[Any], str]], ...] = (
    (type(None), lambda _: "nothing (null)"),
    (bool, lambda value: f"the boolean {str(value).lower()}"),
    (int, lambda value: f"the integer {value if value.bit_length() < 128 else 'with more than 38 digits'}"),
    (float, lambda value: f"the number {short(repr(value))}"),
    (str, lambda value: f'the string "{short(value)}"'),
    ((list, tuple), lambda value: f"a list of {len(value)} item(s)"),
    (dict, lambda _: "a mapping"),
    (date, lambda value: f"the date {value.isoformat()}"),
)


def _describe(value: Any) -> str:
    """A short description of an input: its type and, for scalars, its value."""
    for kinds, describe in _DESCRIPTIONS:
        if isinstance(value, kinds):
            return describe(value)
    return f"a {type(value).__name__}"


def _hint(expected: Any, value: Any) -> str:
    """Why YAML may have produced ``value`` where a string was expected."""
    if _unwrap(expected) is not str:
        return ""
    if isinstance(value, bool):
        return " (YAML reads unquoted yes, no, on, off, true and false as booleans: quote the value)"
    if isinstance(value, int | float | date):
        return " (quote the value to make it a string)"
    return ""


def _sentence(message: str) -> str:
    """Pydantic's fallback message with a lower-case first letter and no "Value error," prefix."""
    message = re.sub(r"^(Value|Assertion) error, ", "", message)
    return message[:1].lower() + message[1:]
