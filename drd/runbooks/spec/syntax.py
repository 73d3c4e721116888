"""Finding ``${{ … }}`` in YAML values: splitting strings into text and expressions, and the error they raise.

An expression ends at the first ``}}`` outside CEL string literals and
braces, so ``${{ {'a': {'b': 1}} }}`` is one expression. A literal ``${{``
can be written as ``${{ '${{' }}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from drd.errors import DrdError
from drd.policy.locations import Loc, format_path

OPEN, CLOSE = "${{", "}}"


class ExpressionError(DrdError):
    """An expression does not compile, or failed to evaluate; the message quotes the expression."""

    def __init__(self, message: str, *, expression: str, path: Loc = (), text: str | None = None) -> None:
        self.expression = expression
        self.path = path
        """Where the expression sits inside the template's value (``("manifests", 0, "metadata", "name")``)."""
        self.reason = message
        where = f"{format_path(path)}: " if path else ""
        shown = f'"{_short(text)}"' if text is not None else f"${{{{ {_short(expression)} }}}}"
        super().__init__(f"{where}{shown}: {message}")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split(text: str, path: Loc = ()) -> Iterator[tuple[str, str | None]]:
    """``(literal text, expression or None)`` pairs of a string; an unclosed ``${{`` is an :class:`ExpressionError`."""
    position = 0
    while True:
        start = text.find(OPEN, position)
        if start < 0:
            yield text[position:], None
            return
        end = _closing(text, start + len(OPEN))
        if end < 0:
            raise ExpressionError(
                '"${{" is not closed by "}}"', expression=text[start + len(OPEN) :], path=path, text=text
            )
        yield text[position:start], text[start + len(OPEN) : end].strip()
        position = end + len(CLOSE)


def _closing(text: str, start: int) -> int:
    """The index of the ``}}`` that closes an expression starting at ``start``, or -1."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth:
                depth -= 1
            elif text.startswith(CLOSE, index):
                return index
        index += 1
    return -1


def contains_expression(value: Any) -> bool:
    """Whether ``value`` (any YAML value) holds ``${{`` anywhere, in a key or a string."""
    if isinstance(value, str):
        return OPEN in value
    if isinstance(value, Mapping):
        return any(contains_expression(key) or contains_expression(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(contains_expression(item) for item in value)
    return False


def iter_strings(value: Any, path: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Every string holding ``${{`` inside ``value`` (keys included, located at their mapping), with its location."""
    if isinstance(value, str):
        if OPEN in value:
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and OPEN in key:
                yield (*path, key), key
            yield from iter_strings(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*path, index))
