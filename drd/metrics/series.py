"""Labelled instruments that remember which label sets drd created, so a reload can drop them.

prometheus-client keeps a child per label set forever and has no public way to
list them. :class:`Tracked` wraps one instrument, records every label set it
hands out, and :meth:`Tracked.retain` removes the ones whose policy (or
cluster) no longer exists, so a deleted policy does not leave stale series
(and stale alerts) behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

LabelValues = tuple[str, ...]


class Tracked(Generic[M]):
    """One labelled instrument and the label sets handed out, in label-name order."""

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._seen: set[LabelValues] = set()
        self._lock = threading.Lock()

    def labels(self, *values: str) -> M:
        """The child for ``values`` (created at 0 when new), remembered for :meth:`retain`."""
        key = tuple(values)
        with self._lock:
            child = self.metric.labels(*key)
            self._seen.add(key)
        return child

    def touch(self, sets: Iterable[LabelValues]) -> None:
        """Create every label set in ``sets`` that does not exist yet, without changing existing values."""
        for values in sets:
            self.labels(*values)

    def retain(self, keep: Callable[[LabelValues], bool]) -> int:
        """Remove every label set for which ``keep`` is false; returns how many were removed."""
        with self._lock:
            dropped = [values for values in self._seen if not keep(values)]
            for values in dropped:
                self.metric.remove(*values)
                self._seen.discard(values)
        return len(dropped)

    def label_sets(self) -> frozenset[LabelValues]:
        """The label sets that currently exist (tests, debugging)."""
        with self._lock:
            return frozenset(self._seen)
