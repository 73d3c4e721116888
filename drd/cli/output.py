"""Rendering command results as a table, JSON or YAML (``--output``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, TextIO

from drd import redaction

FORMATS = ("table", "json", "yaml")


def to_plain(value: Any) -> Any:
    """Convert a result into JSON-compatible values (datetimes as RFC 3339, durations as seconds)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v) for v in value]
    return value


def render_document(data: Any, fmt: str, stream: TextIO) -> None:
    """Write one structured document as JSON or YAML, secrets masked."""
    plain = redaction.redact(to_plain(data))
    if fmt == "yaml":
        import yaml

        stream.write(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
    else:
        stream.write(json.dumps(plain, indent=2, ensure_ascii=False) + "\n")


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], stream: TextIO) -> None:
    """Write rows as aligned columns with an upper-case header, like ``kubectl get``."""
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    header = [col.upper() for col in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    for line in [header, *cells]:
        stream.write("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")


def _cell(value: Any) -> str:
    plain = to_plain(value)
    if plain is None:
        return "-"
    if isinstance(plain, list):
        return ",".join(str(v) for v in plain) or "-"
    return redaction.redact_text(str(plain))


def render_problems(
    ctx: Any, problems: Sequence[Any], paths: Sequence[str], *, as_json: Callable[[Any], Any] = str
) -> None:
    """Invalid documents: ``file:line: path: message`` lines and a count, or ``{"valid": false, "errors": …}``."""
    if ctx.output == "table":
        for problem in problems:
            ctx.stdout.write(f"{problem}\n")
        ctx.stderr.write(f"{len(problems)} error(s) in {', '.join(paths)}\n")
    else:
        ctx.render({"valid": False, "errors": [as_json(p) for p in problems]})
