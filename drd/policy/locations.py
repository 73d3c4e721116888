"""Where a value sits: paths inside a document, and documents inside files.

A location is a tuple of mapping keys and list indices, ``("spec", "verify", 2,
"port")``, printed as ``spec.verify[2].port``. A :class:`SourceDocument` is one
YAML document with the line of every key and list item, so any location found
later (by pydantic or by a cross-document check) becomes a
:class:`~drd.errors.Problem` that names file, line and path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drd.errors import Problem

Loc = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_MAX_KEY_SHOWN = 60


def format_path(loc: Loc) -> str:
    """``("spec", "verify", 2, "port")`` → ``spec.verify[2].port``; odd keys are quoted: ``labels["app.io/x"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            shown = part if len(part) <= _MAX_KEY_SHOWN else part[: _MAX_KEY_SHOWN - 1] + "…"
            out += f"[{json.dumps(shown, ensure_ascii=False)}]"
    return out


@dataclass(frozen=True)
class SourceDocument:
    """One parsed YAML document and where each of its values came from."""

    file: str
    """The file as the user named it (``policies/shop.yaml``)."""
    number: int
    """1-based position of the document in its file, counting every ``---`` section."""
    multi: bool
    """The file holds several documents, so problem paths start with ``document N:``."""
    data: Any
    """The plain data: dicts, lists, strings, numbers, booleans, ``None``."""
    lines: Mapping[Loc, int]
    """1-based line of every mapping key and list item; ``()`` is the document's first line."""
    reported: frozenset[Loc] = field(default=frozenset())
    """Locations the YAML reader already reported (duplicate key, bad value); later findings there are noise."""

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest enclosing key when ``loc`` itself is absent (a missing field)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def is_reported(self, loc: Loc) -> bool:
        """Whether the reader already reported ``loc`` or a location that encloses it."""
        return any(loc[: len(seen)] == seen for seen in self.reported)

    def problem(self, loc: Loc, message: str) -> Problem:
        """A problem at ``loc`` in this document."""
        return Problem(
            file=self.file,
            path=document_path(self.number, loc, multi=self.multi),
            message=message,
            line=self.line_of(loc),
        )


def document_path(number: int, loc: Loc, *, multi: bool) -> str:
    """The printed path, prefixed with ``document N`` when the file holds several documents."""
    path = format_path(loc)
    if not multi:
        return path
    return f"document {number}: {path}" if path else f"document {number}"
