"""Two small inline SVG figures for the drill report: the phases bar and the RTO sparkline.

Both are self-contained ``<svg>`` elements (no namespace URL, no external
references), carry a text alternative, and repeat in words what they show,
so a reader who cannot see the colours, or a printer without them, loses
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drd.drills import report_format as fmt
from drd.drills.report_markup import Html, escape, join

PHASE_ORDER = ("restore", "verify", "teardown")
"""Phases in the order a drill goes through them; any other phase follows, in the evidence's order."""

_LABEL_MIN_SHARE = 0.13
"""A segment narrower than this share of the bar is labelled only in the legend under it."""


def ordered_phases(phases: dict[str, float]) -> list[tuple[str, float]]:
    """``(name, seconds)`` in drill order, skipping empty phases."""
    known = [(name, phases[name]) for name in PHASE_ORDER if name in phases]
    others = [(name, value) for name, value in phases.items() if name not in PHASE_ORDER]
    return [(name, value) for name, value in [*known, *others] if value > 0]


def phase_bar(phases: Sequence[tuple[str, float]], *, rto_seconds: float | None) -> Html:
    """A stacked bar of the drill's phases, to scale, with the achieved RTO bracketed above it."""
    total = sum(seconds for _, seconds in phases)
    if total <= 0:
        return Html("")
    top = 22 if rto_seconds is not None and rto_seconds > 0 else 0
    shares = _visible_shares([seconds / total for _, seconds in phases])
    pieces: list[Html] = []
    start = 0.0
    for index, ((name, seconds), share) in enumerate(zip(phases, shares, strict=True)):
        x, width = 100 * start, 100 * share
        label = f"{name.capitalize()} {fmt.duration(seconds)}"
        pieces.append(
            Html(
                f'<rect class="seg seg-{index % 4}" x="{x:.3f}%" y="{top}" width="{width:.3f}%" height="26">'
                f"<title>{escape(label)}</title></rect>"
            )
        )
        if share >= _LABEL_MIN_SHARE:
            pieces.append(
                Html(
                    f'<text class="seg-label" x="{x + width / 2:.3f}%" y="{top + 17}" text-anchor="middle">'
                    f"{escape(label)}</text>"
                )
            )
        start += share
    if rto_seconds is not None and rto_seconds > 0:
        end = _scaled(min(1.0, rto_seconds / total), [seconds / total for _, seconds in phases], shares) * 100
        anchor, at = ("end", end) if end > 60 else ("start", 0.0)
        pieces.append(
            Html(
                f'<line class="rto" x1="0.2%" y1="15" x2="{end - 0.2:.3f}%" y2="15"/>'
                f'<line class="rto" x1="0.2%" y1="11" x2="0.2%" y2="19"/>'
                f'<line class="rto" x1="{end - 0.2:.3f}%" y1="11" x2="{end - 0.2:.3f}%" y2="19"/>'
                f'<text class="rto-label" x="{at:.3f}%" y="9" text-anchor="{anchor}">'
                f"RTO {escape(fmt.duration(rto_seconds))}: restore start to verified</text>"
            )
        )
    pieces.append(
        Html(
            f'<text class="axis" x="0" y="{top + 42}">0 s</text>'
            f'<text class="axis" x="100%" y="{top + 42}" text-anchor="end">{escape(fmt.duration(total))}</text>'
        )
    )
    words = ", ".join(f"{name} {fmt.duration(seconds)}" for name, seconds in phases)
    return Html(
        f'<svg class="phases" width="100%" height="68" role="img" aria-label="{escape("Phases: " + words)}">'
        f"{join(pieces)}</svg>"
    )


_MIN_SHARE = 0.008
"""The narrowest a segment is drawn, so that a 3 s teardown after a 30 m restore is still visible."""


def _visible_shares(shares: Sequence[float]) -> list[float]:
    """``shares`` (summing to 1) with each widened to at least :data:`_MIN_SHARE`, the rest shrunk to fit."""
    widened = [max(share, _MIN_SHARE) for share in shares]
    extra = sum(widened) - 1.0
    wide = sum(share for share in widened if share > _MIN_SHARE)
    if extra <= 0 or wide <= 0:
        return widened
    return [share if share <= _MIN_SHARE else share - extra * share / wide for share in widened]


def _scaled(position: float, true_shares: Sequence[float], drawn_shares: Sequence[float]) -> float:
    """Where ``position`` (a fraction of the true total) falls on the bar as drawn."""
    true_start = drawn_start = 0.0
    for true, drawn in zip(true_shares, drawn_shares, strict=True):
        if position <= true_start + true:
            return drawn_start + (position - true_start) / true * drawn if true else drawn_start
        true_start, drawn_start = true_start + true, drawn_start + drawn
    return 1.0


@dataclass(frozen=True, slots=True)
class Point:
    """One drill on the sparkline."""

    run: str
    rto_seconds: float
    passed: bool
    current: bool = False


def sparkline(points: Sequence[Point], *, width: int = 260, height: int = 56) -> Html:
    """The RTO of successive drills, oldest left; failed drills are hollow, this drill is ringed."""
    if len(points) < 2:
        return Html("")
    pad = 7.0
    values = [p.rto_seconds for p in points]
    low, high = min(values), max(values)
    span = (high - low) or max(high, 1.0)
    base = low if high != low else low - span / 2

    def xy(index: int, value: float) -> tuple[float, float]:
        x = pad + index * (width - 2 * pad) / (len(points) - 1)
        y = height - pad - (value - base) / span * (height - 2 * pad)
        return x, y

    coords = [xy(i, p.rto_seconds) for i, p in enumerate(points)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = []
    for (x, y), point in zip(coords, points, strict=True):
        kind = "pass" if point.passed else "fail"
        title = escape(f"{point.run}: RTO {fmt.duration(point.rto_seconds)}, {'passed' if point.passed else 'failed'}")
        ring = f'<circle class="spark-ring" cx="{x:.1f}" cy="{y:.1f}" r="6"/>' if point.current else ""
        dots.append(
            Html(
                f'{ring}<circle class="spark-{kind}" cx="{x:.1f}" cy="{y:.1f}" r="3.2"><title>{title}</title></circle>'
            )
        )
    summary = f"RTO of the last {len(points)} drills, oldest first: from {fmt.duration(low)} to {fmt.duration(high)}"
    return Html(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(summary)}"><polyline class="spark-line" points="{line}"/>{join(dots)}</svg>'
    )
