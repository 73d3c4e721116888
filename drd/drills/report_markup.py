"""HTML pieces for the drill report, with escaping enforced by the type checker.

:data:`Html` marks text that is already markup. Every helper here takes plain
``str`` for what it prints and escapes it, and takes :data:`Html` only for
markup built by another helper; so passing raw evidence where markup is
expected is a mypy error rather than an injection.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any, NewType

from drd.drills import report_format as fmt
from drd.drills.report_format import Status

Html = NewType("Html", str)
"""Markup that is safe to put in the page as it is."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """``value`` as text without terminal escape sequences or control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", _ANSI.sub("", str(value)))


def escape(value: object) -> Html:
    """Text (anything, via ``str``) as markup: control characters dropped, ``<>&"'`` escaped."""
    return Html(html.escape(clean(value), quote=True))


def join(parts: Iterable[Html], separator: str = "") -> Html:
    """Markup pieces one after another."""
    return Html(separator.join(parts))


def element(tag: str, content: Html, *, cls: str | None = None, attrs: str = "") -> Html:
    """``<tag class="cls" attrs>content</tag>``; ``tag``, ``cls`` and ``attrs`` are the report's own constants."""
    klass = f' class="{cls}"' if cls else ""
    return Html(f"<{tag}{klass}{attrs}>{content}</{tag}>")


def value_or(value: str | None, missing: str) -> Html:
    """The escaped value, or ``missing`` marked as such (muted and italic, not a value)."""
    if value is None:
        return element("span", escape(missing), cls="missing")
    return escape(value)


def code(value: str) -> Html:
    """A name (object, run, pod…) in the monospace face."""
    return element("code", escape(value))


def code_or(value: str | None, absent: str) -> Html:
    """A name in the monospace face, or ``absent`` marked as missing."""
    return code(value) if value else value_or(None, absent)


def when(value: Any, absent: str = "—") -> Html:
    """A timestamp in UTC (``2026-06-01 02:00:14 UTC``) that never wraps inside a table cell."""
    found = fmt.timestamp(value)
    return element("span", escape(found), cls="nowrap") if found else value_or(None, absent)


def status_label(status: Status, label: str | None = None, *, large: bool = False) -> Html:
    """A status as a symbol and a word in its colour: never colour alone."""
    word = escape(label or status.label)
    symbol = element("span", escape(status.symbol), cls="sym", attrs=' aria-hidden="true"')
    size = " status-lg" if large else ""
    return element("span", Html(f"{symbol}{word}"), cls=f"status status-{status.key}{size}")


def facts(rows: Iterable[tuple[str, Html]], *, cls: str = "facts") -> Html:
    """A description list of label/value pairs (labels are the report's own words)."""
    items = (element("div", Html(f"<dt>{escape(label)}</dt><dd>{value}</dd>")) for label, value in rows)
    return element("dl", join(items), cls=cls)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Html]],
    *,
    cls: str = "grid",
    numeric: Sequence[int] = (),
    nowrap: Sequence[int] = (),
    caption: str | None = None,
    row_classes: Sequence[str] | None = None,
    notes: Sequence[Html | None] | None = None,
) -> Html:
    """A table with a header row.

    The ``numeric`` columns are right-aligned in tabular figures; the ``nowrap``
    ones hold identifiers that must not break at their hyphens. A row's note
    (an error, say) is printed under it across the whole width.
    """

    def klass(index: int) -> str:
        names = " ".join(name for name, columns in (("num", numeric), ("nowrap", nowrap)) if index in columns)
        return f' class="{names}"' if names else ""

    head = join(Html(f'<th scope="col"{klass(i)}>{escape(h)}</th>') for i, h in enumerate(headers))
    body = []
    for n, row in enumerate(rows):
        note = notes[n] if notes else None
        row_cls = " ".join(filter(None, (row_classes[n] if row_classes else None, "has-note" if note else None)))
        cells = join(Html(f"<td{klass(i)}>{cell}</td>") for i, cell in enumerate(row))
        body.append(element("tr", cells, cls=row_cls or None))
        if note:
            spanned = Html(f'<td></td><td colspan="{len(headers) - 1}">{note}</td>')
            body.append(element("tr", spanned, cls=" ".join(filter(None, ("note", row_cls.split()[0])))))
    cap = element("caption", escape(caption)) if caption else Html("")
    return Html(f'<table class="{cls}">{cap}<thead><tr>{head}</tr></thead><tbody>{join(body)}</tbody></table>')


def bullet_list(items: Iterable[Html], *, cls: str | None = None) -> Html:
    """An unordered list."""
    return element("ul", join(element("li", item) for item in items), cls=cls)


def paragraph(content: Html, *, cls: str | None = None) -> Html:
    """A paragraph."""
    return element("p", content, cls=cls)


def missing(message: str) -> Html:
    """A paragraph saying that a part of the evidence is absent, and why."""
    return paragraph(escape(message[:1].upper() + message[1:] + "."), cls="missing")
