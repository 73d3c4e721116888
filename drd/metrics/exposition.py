"""The ``/metrics`` encoder: prometheus-client's bytes, at a fraction of its CPU.

prometheus-client's encoders turn every series into ``Sample`` tuples with a
fresh label dict (``registry.collect()``), then format each line from that dict
(sorting, escaping and validating every label name again): about 7 µs a line,
and 13 000 lines with 500 backup policies. drd's own instruments
(:mod:`drd.metrics.families`) and the scrape-time collector
(:mod:`drd.metrics.objectives`) instead yield a :class:`RenderedFamily`: a
metric family that writes its own exposition text from label strings prepared
once per series, re-formatting a series' value only when it changed since the
last scrape. Everything else a registry yields (another collector, a family
without a fast form, a ``name[]``-restricted snapshot) goes through
prometheus-client's own encoder, one family at a time.

:func:`negotiate` keeps prometheus-client's content negotiation
(``choose_encoder``) and only swaps in the fast encoder for the formats it
writes identically: text 0.0.4 (and text 1.0.0) and OpenMetrics 1.0.0, with
``underscores`` or ``allow-utf-8`` escaping. Any other answer (the ``dots`` or
``values`` escapings, OpenMetrics 2.0) is prometheus-client's own. The output
is byte-for-byte what prometheus-client's encoder would write for the same
registry: ``tests/metrics/test_exposition.py`` compares the two, and
``promtool check metrics`` when it is installed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import Any

from prometheus_client import exposition
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from drd.logs import get_logger

log = get_logger(__name__)

Encoder = Callable[[Collector], bytes]


class Format(Enum):
    """The exposition formats the fast encoder writes."""

    TEXT = "text"
    """Prometheus text format 0.0.4 (also what prometheus-client answers for text 1.0.0 with legacy names)."""
    OPENMETRICS = "openmetrics"
    """OpenMetrics 1.0.0 text."""


_SAFE_ESCAPINGS = frozenset({openmetrics.UNDERSCORES, openmetrics.ALLOWUTF8})
"""Escapings under which a name made of ``[a-zA-Z_][a-zA-Z0-9_]*`` is written unchanged."""

_SIMPLE_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
"""Names the fast path writes as they are, in every format and safe escaping.

Stricter than Prometheus' metric names (no ``:``): prometheus-client's
OpenMetrics encoder replaces ``:`` in sample names under ``underscores``.
"""


def simple_name(name: str) -> bool:
    """Whether ``name`` (a metric or label name) is written verbatim by every encoder the fast path replaces."""
    return _SIMPLE_NAME.fullmatch(name) is not None


def go_float(value: float) -> str:
    """A sample value (or ``le`` bound) as prometheus-client writes it: Go's float formatting, ``+Inf``, ``NaN``."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text


def escape_label_value(value: str) -> str:
    """A label value as both formats write it between its quotes."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_text(pairs: Iterable[tuple[str, str]]) -> str:
    """``{name="value",…}`` with the labels sorted by name (as prometheus-client writes them); "" for none."""
    items = sorted(pairs)
    if not items:
        return ""
    return "{" + ",".join(f'{name}="{escape_label_value(value)}"' for name, value in items) + "}"


def family_header(fmt: Format, name: str, documentation: str, typ: str, unit: str = "") -> str:
    """The ``# HELP``/``# TYPE`` (and OpenMetrics ``# UNIT``) lines of a family whose Metric name is ``name``.

    ``name`` is the family name prometheus-client's ``Metric`` carries (a
    counter's without ``_total``); ``typ`` one of counter, gauge, histogram.
    """
    if fmt is Format.TEXT:
        text_name = f"{name}_total" if typ == "counter" else name
        help_text = documentation.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {text_name} {help_text}\n# TYPE {text_name} {typ}\n"
    header = f"# HELP {name} {escape_label_value(documentation)}\n# TYPE {name} {typ}\n"
    return header + (f"# UNIT {name} {unit}\n" if unit else "")


class RenderedFamily(Metric):
    """A metric family that can write its own exposition text.

    To prometheus-client (its encoders, ``restricted_registry``) it is an
    ordinary :class:`Metric`: :attr:`samples` are built on first access by
    ``samples``. :func:`encode` calls :meth:`render` instead and never builds
    them. ``render(fmt)`` returns the family's whole text in ``fmt`` (header
    included; for text, the separate ``*_created`` family too), or None when
    this family cannot be written fast (the encoder then formats its samples).
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        typ: str,
        unit: str = "",
        *,
        samples: Callable[[], Sequence[Sample]],
        render: Callable[[Format], str | None],
    ) -> None:
        self._sample_source = samples
        self._built: list[Sample] | None = None
        super().__init__(name, documentation, typ, unit)
        self._built = None  # Metric.__init__ assigned [] through the setter; build on demand instead
        self.render = render

    @property
    def samples(self) -> list[Sample]:
        if self._built is None:
            self._built = list(self._sample_source())
        return self._built

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self._built = value


class _One:
    """A collector of one family (to hand a single family to prometheus-client's encoders)."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self._metric]


_EOF = "# EOF\n"


def _generic(metric: Metric, fmt: Format, escaping: str) -> str:
    """One family through prometheus-client's own encoder."""
    if fmt is Format.TEXT:
        return exposition.generate_latest(_One(metric), escaping=escaping).decode("utf-8")
    text: bytes = openmetrics.generate_latest(_One(metric), escaping=escaping)  # type: ignore[no-untyped-call]
    return text.decode("utf-8").removesuffix(_EOF)


def encode(registry: Collector, fmt: Format = Format.TEXT, escaping: str = openmetrics.UNDERSCORES) -> bytes:
    """The exposition of ``registry`` in ``fmt``: rendered families as they are, the others via prometheus-client.

    ``escaping`` is what the client negotiated; it applies to the families
    prometheus-client encodes (the rendered ones only use names that no safe
    escaping changes).
    """
    parts: list[str] = []
    for metric in registry.collect():
        text = None
        if isinstance(metric, RenderedFamily) and escaping in _SAFE_ESCAPINGS:
            try:
                text = metric.render(fmt)
            except Exception as exc:  # never fail a scrape on the fast path: fall back to the reference encoder
                log.warning("metrics_render_failed", metric=metric.name, error=f"{type(exc).__name__}: {exc}")
        parts.append(text if text is not None else _generic(metric, fmt, escaping))
    if fmt is Format.OPENMETRICS:
        parts.append(_EOF)
    return "".join(parts).encode("utf-8")


def negotiate(accept: str) -> tuple[Encoder, str]:
    """The encoder and ``Content-Type`` for a request's ``Accept`` header.

    prometheus-client's ``choose_encoder`` decides (so drd negotiates exactly as
    it always did); when its choice is a format and escaping the fast encoder
    writes byte for byte, the fast encoder is returned in its place.
    """
    encoder, content_type = exposition.choose_encoder(accept)
    return fast_equivalent(encoder) or encoder, content_type


def fast_equivalent(encoder: Any) -> Encoder | None:
    """The fast encoder that writes what ``encoder`` (one of ``choose_encoder``'s answers) writes, if any."""
    func, keywords = encoder, {}
    if isinstance(encoder, functools.partial):
        if encoder.args:
            return None
        func, keywords = encoder.func, dict(encoder.keywords)
    escaping = keywords.pop("escaping", openmetrics.UNDERSCORES)
    if escaping not in _SAFE_ESCAPINGS:
        return None
    if func is exposition.generate_latest and not keywords:
        return functools.partial(encode, fmt=Format.TEXT, escaping=escaping)
    if func is openmetrics.generate_latest and keywords.get("version", "1.0.0") == "1.0.0":
        return functools.partial(encode, fmt=Format.OPENMETRICS, escaping=escaping)
    return None
