"""prometheus-client's Counter, Gauge and Histogram, able to write their own exposition lines.

Same constructors, same methods, same registry behaviour: these are
subclasses, and every child a ``labels()`` call creates is one too. Two things
are added, both for the cost of a scrape (see :mod:`drd.metrics.exposition`):

* each series prepares its sample-name-and-labels prefixes once, when it is
  created (labels sorted and escaped as prometheus-client writes them; a
  histogram series one prefix per bucket), and keeps its last rendered lines
  with the raw values they were rendered from: a scrape reads the values
  (one lock each, as prometheus-client does) and formats them again only when
  they changed. Most per-policy series do not change between two scrapes;
* ``collect()`` yields a :class:`~drd.metrics.exposition.RenderedFamily`, so the
  fast encoder asks the instrument for its text instead of building ``Sample``
  tuples and label dicts for 13 000 lines.

Looking at the values rather than counting mutations keeps the cache right by
construction: no mutator (``inc``, ``set``, ``observe``, ``set_function``,
``reset``, the ``time()`` helpers…) needs to remember to mark the series dirty.

This reads the value holders prometheus-client's own ``_child_samples`` reads
(``_value``, ``_buckets``, ``_sum``, ``_created``) and the module switch of
``disable_created_metrics()``. ``tests/metrics/test_exposition.py`` pins the
result to prometheus-client's ``generate_latest`` byte for byte, with and
without ``*_created``, for both formats, so a prometheus-client release that
changes them fails there; at run time a render that fails falls back to
prometheus-client's encoder for that family (logged).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import prometheus_client
from prometheus_client import metrics as client_metrics
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

from drd.metrics.exposition import Format, RenderedFamily, family_header, go_float, label_text, simple_name

Values = tuple[float, ...]


def created_enabled() -> bool:
    """Whether prometheus-client exports ``*_created`` samples (``disable_created_metrics()`` not called)."""
    return bool(getattr(client_metrics, "_use_created", True))


def _reference_samples(families: Iterable[Metric]) -> list[Sample]:
    """The samples of the one family prometheus-client's own ``collect()`` made."""
    return [sample for family in families for sample in family.samples]


class _Rendered(MetricWrapperBase):
    """What the three instruments share: headers, the series walk and the per-series cache."""

    _fast: bool
    _headers: dict[tuple[Format, bool], str]
    _cache: tuple[Values, str] | None
    _exemplars: bool

    def _setup(self) -> None:
        """Called at the end of ``__init__`` of a parent, a child or a label-less instrument."""
        self._kind = str(self._type)
        self._fast = simple_name(self._name) and all(simple_name(name) for name in self._labelnames)
        self._headers = {}
        self._cache = None
        self._exemplars = False
        if self._observable():
            self._prepare_series(label_text(zip(self._labelnames, self._labelvalues, strict=True)))

    def _observable(self) -> bool:
        return not self._labelnames or bool(self._labelvalues)

    # Overridden by each instrument
    def _prepare_series(self, labels: str) -> None:
        raise NotImplementedError

    def _values(self) -> Values:
        raise NotImplementedError

    def _format(self, values: Values) -> str:
        raise NotImplementedError

    def _created_line(self) -> str:
        return ""

    # The series
    def _series(self) -> list[Any]:
        if not self._labelnames:
            return [self]
        with self._lock:
            return list(self._metrics.values())

    def _lines(self) -> str:
        """This series' sample lines, re-formatted only when its values changed since they were last.

        "Unchanged" is identity: the value holders return the float object they
        store, so the very objects the text was made from mean the very same
        text (``==`` would take -0.0 for 0.0, which Go's formatting does not).
        A value set again to an equal number is a new object: re-formatted.
        """
        values = self._values()
        cached = self._cache
        if cached is not None and len(cached[0]) == len(values) and all(map(operator.is_, cached[0], values)):
            return cached[1]
        text = self._format(values)
        self._cache = (values, text)
        return text

    def sample_lines(self) -> str | None:
        """Every series' sample lines without the family header and ``*_created`` (None: no fast form)."""
        if not self._fast:
            return None
        return "".join([series._lines() for series in self._series()])

    def _header(self, fmt: Format, created: bool = False) -> str:
        key = (fmt, created)
        header = self._headers.get(key)
        if header is None:
            if created:
                header = family_header(fmt, f"{self._name}_created", self._documentation, "gauge")
            else:
                header = family_header(fmt, self._name, self._documentation, self._kind, self._unit)
            self._headers[key] = header
        return header

    def render(self, fmt: Format) -> str | None:
        """The whole family in ``fmt``, as prometheus-client's encoder writes it; None when it cannot be fast."""
        if not self._fast:
            return None
        series = self._series()
        if fmt is Format.OPENMETRICS and any(s._exemplars for s in series):
            return None  # exemplars are written by prometheus-client's encoder (drd sets none)
        created = self._kind != "gauge" and created_enabled()
        if not created:
            return self._header(fmt) + "".join([s._lines() for s in series])
        if fmt is Format.OPENMETRICS:
            return self._header(fmt) + "".join([s._lines() + s._created_line() for s in series])
        # Text 0.0.4 has no *_created: prometheus-client writes them as a gauge family after this one.
        text = self._header(fmt) + "".join([s._lines() for s in series])
        if series:
            text += self._header(fmt, created=True) + "".join([s._created_line() for s in series])
        return text

    def _family(self, samples: Callable[[], Sequence[Sample]]) -> RenderedFamily:
        return RenderedFamily(
            self._name, self._documentation, self._kind, self._unit, samples=samples, render=self.render
        )


class Counter(_Rendered, prometheus_client.Counter):
    """prometheus-client's Counter; renders itself for :func:`drd.metrics.exposition.encode`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup()

    def _prepare_series(self, labels: str) -> None:
        self._prefix = f"{self._name}_total{labels} "
        self._created_prefix = f"{self._name}_created{labels} "

    def _values(self) -> Values:
        return (self._value.get(),)

    def _format(self, values: Values) -> str:
        return f"{self._prefix}{go_float(values[0])}\n"

    def _created_line(self) -> str:
        return f"{self._created_prefix}{go_float(self._created)}\n"

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        super().inc(amount, exemplar)
        if exemplar:
            self._exemplars = True

    def collect(self) -> list[RenderedFamily]:
        return [self._family(lambda: _reference_samples(prometheus_client.Counter.collect(self)))]


class Gauge(_Rendered, prometheus_client.Gauge):
    """prometheus-client's Gauge; renders itself for :func:`drd.metrics.exposition.encode`."""

    _function: Callable[[], float] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup()

    def _prepare_series(self, labels: str) -> None:
        self._prefix = f"{self._name}{labels} "

    def _values(self) -> Values:
        if self._function is not None:
            return (float(self._function()),)
        return (self._value.get(),)

    def _format(self, values: Values) -> str:
        return f"{self._prefix}{go_float(values[0])}\n"

    def set_function(self, f: Callable[[], float]) -> None:
        super().set_function(f)
        self._function = f

    def collect(self) -> list[RenderedFamily]:
        return [self._family(lambda: _reference_samples(prometheus_client.Gauge.collect(self)))]


class Histogram(_Rendered, prometheus_client.Histogram):
    """prometheus-client's Histogram; renders itself for :func:`drd.metrics.exposition.encode`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup()

    def _prepare_series(self, labels: str) -> None:
        pairs = list(zip(self._labelnames, self._labelvalues, strict=True))
        self._bucket_prefixes = [
            f"{self._name}_bucket{label_text([*pairs, ('le', go_float(bound))])} " for bound in self._upper_bounds
        ]
        self._count_prefix = f"{self._name}_count{labels} "
        self._sum_prefix = f"{self._name}_sum{labels} " if self._upper_bounds[0] >= 0 else ""
        self._created_prefix = f"{self._name}_created{labels} "

    def _values(self) -> Values:
        return (*[bucket.get() for bucket in self._buckets], self._sum.get())

    def _format(self, values: Values) -> str:
        lines = []
        total = 0.0
        for prefix, count in zip(self._bucket_prefixes, values, strict=False):  # the last value is the sum
            total += count
            lines.append(f"{prefix}{go_float(total)}\n")
        lines.append(f"{self._count_prefix}{go_float(total)}\n")
        if self._sum_prefix:
            lines.append(f"{self._sum_prefix}{go_float(values[-1])}\n")
        return "".join(lines)

    def _created_line(self) -> str:
        return f"{self._created_prefix}{go_float(self._created)}\n"

    def observe(self, amount: float, exemplar: dict[str, str] | None = None) -> None:
        super().observe(amount, exemplar)
        if exemplar:
            self._exemplars = True

    def collect(self) -> list[RenderedFamily]:
        return [self._family(lambda: _reference_samples(prometheus_client.Histogram.collect(self)))]
