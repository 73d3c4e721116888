"""``drd_rpo_seconds`` and ``drd_objective_met``, computed when Prometheus scrapes.

The RPO of a policy is the age of its newest restorable backup *now*, so it is
not stored in a gauge that someone must remember to update: on every scrape
:class:`ObjectivesCollector` asks an injected provider (the daemon reads its
store) for each policy's newest restorable backup and subtracts it from the
injected clock. The value therefore survives restarts and keeps growing while
backups fail or stop, which is exactly when it matters.

``drd_objective_met`` has a single owner, this collector, because one metric
name may appear only once in an exposition: the ``rpo`` objective is computed
here from the same samples, the others (``rto``, ``drill_freshness``) are set
by the daemon through :meth:`ObjectivesCollector.set_met` and merged in.

A policy that never had a restorable backup has an RPO of **+Inf**: it is
breached (``drd_objective_met{objective="rpo"} == 0``), ``drd_rpo_seconds >
drd_rpo_objective_seconds`` is true, and ``max()``/``topk()`` sort it first.
NaN would make every comparison false and silence the alert.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter, Gauge
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drd.clock import Clock
from drd.logs import get_logger
from drd.metrics.series import Tracked
from drd.metrics.vocabulary import NAMESPACE, Objective
from drd.policy.models.backup import BackupPolicy

log = get_logger(__name__)

RPO_SECONDS = f"{NAMESPACE}_rpo_seconds"
OBJECTIVE_MET = f"{NAMESPACE}_objective_met"
RPO_PARTIALLY_FAILED = f"{NAMESPACE}_rpo_backup_partially_failed"

_RPO_HELP = "Age of the newest restorable backup of a backup policy, now; +Inf when there has never been one."
_MET_HELP = "1 while a recovery objective of a policy is met, 0 while it is breached or not yet proven."
_PARTIAL_HELP = "1 when the RPO is measured from a PartiallyFailed backup (the policy sets countPartiallyFailed)."


@dataclass(frozen=True, slots=True)
class RpoSample:
    """What the RPO of one backup policy is computed from."""

    policy: str
    """The BackupPolicy's name (the ``policy`` label)."""
    objective_seconds: float
    """The policy's ``objectives.rpo``."""
    last_good_completed: datetime | None
    """Completion time of the newest restorable backup; None when there has never been one."""
    partially_failed: bool = False
    """That backup is PartiallyFailed, counted only because the policy sets ``countPartiallyFailed``."""

    @classmethod
    def for_policy(
        cls, policy: BackupPolicy, last_good_completed: datetime | None, *, partially_failed: bool = False
    ) -> RpoSample:
        """The sample of a loaded policy, with its objective."""
        return cls(
            policy=policy.name,
            objective_seconds=policy.spec.objectives.rpo.total_seconds(),
            last_good_completed=last_good_completed,
            partially_failed=partially_failed,
        )

    def rpo_seconds(self, now: datetime) -> float:
        """Seconds since the newest restorable backup (never negative); +Inf when there is none."""
        if self.last_good_completed is None:
            return math.inf
        return max(0.0, (now - self.last_good_completed).total_seconds())

    def met(self, now: datetime) -> bool:
        """Whether the RPO objective holds now."""
        return self.rpo_seconds(now) <= self.objective_seconds


RpoProvider = Callable[[], Iterable[RpoSample]]
"""Called on every scrape; returns one sample per *currently loaded* backup policy.

It must be cheap (one query for all policies, not one per policy) and
thread-safe: scrapes run on the HTTP server's threads.
"""


class ObjectivesCollector(Collector):
    """Yields ``drd_rpo_seconds``, ``drd_rpo_backup_partially_failed`` and all of ``drd_objective_met``.

    When the provider fails (the database is briefly away), the last samples
    it returned are used again (their RPO keeps growing with the clock) and
    ``drd_rpo_provider_errors_total`` counts the failure, so a database
    hiccup neither hides the RPO series nor pages on a fake breach.
    """

    def __init__(self, *, provider: RpoProvider | None, clock: Clock, provider_errors: Counter) -> None:
        self._provider = provider
        self._clock = clock
        self._provider_errors = provider_errors
        self._lock = threading.Lock()
        self._last_samples: tuple[RpoSample, ...] = ()
        self.pushed: Tracked[Gauge] = Tracked(
            Gauge("objective_met", _MET_HELP, ["policy", "objective"], namespace=NAMESPACE, registry=None)
        )
        """The objectives other than ``rpo``, set by the daemon (``policy``, ``objective``)."""

    def set_provider(self, provider: RpoProvider | None) -> None:
        """Replace the provider (the daemon may open its store after creating the metrics)."""
        with self._lock:
            self._provider = provider
            self._last_samples = ()

    def set_met(self, policy: str, objective: Objective, met: bool) -> None:
        """Set a pushed objective; ``rpo`` is computed at scrape and cannot be set."""
        if objective is Objective.RPO:
            raise ValueError("the rpo objective is computed at scrape time from the RPO provider")
        self.pushed.labels(policy, objective.value).set(1.0 if met else 0.0)

    def describe(self) -> Iterable[Metric]:
        """The families this collector owns (lets the registry refuse a duplicate name)."""
        return [
            GaugeMetricFamily(RPO_SECONDS, _RPO_HELP, labels=["policy"]),
            GaugeMetricFamily(RPO_PARTIALLY_FAILED, _PARTIAL_HELP, labels=["policy"]),
            GaugeMetricFamily(OBJECTIVE_MET, _MET_HELP, labels=["policy", "objective"]),
        ]

    def collect(self) -> Iterator[Metric]:
        """Compute the RPO of every sample at the clock's now and merge the pushed objectives."""
        samples = self._samples()
        now = self._clock.now()
        rpo = GaugeMetricFamily(RPO_SECONDS, _RPO_HELP, labels=["policy"])
        partial = GaugeMetricFamily(RPO_PARTIALLY_FAILED, _PARTIAL_HELP, labels=["policy"])
        met = GaugeMetricFamily(OBJECTIVE_MET, _MET_HELP, labels=["policy", "objective"])
        for sample in samples:
            age = sample.rpo_seconds(now)
            rpo.add_metric([sample.policy], age)
            partial.add_metric([sample.policy], 1.0 if sample.partially_failed else 0.0)
            met.add_metric([sample.policy, Objective.RPO.value], 1.0 if age <= sample.objective_seconds else 0.0)
        for family in self.pushed.metric.collect():
            for pushed in family.samples:
                met.add_metric([pushed.labels["policy"], pushed.labels["objective"]], pushed.value)
        yield rpo
        yield partial
        yield met

    def _samples(self) -> tuple[RpoSample, ...]:
        with self._lock:
            provider, cached = self._provider, self._last_samples
        if provider is None:
            return ()
        try:
            by_policy = {sample.policy: sample for sample in provider()}
        except Exception as exc:  # a failing provider must not fail the whole scrape
            self._provider_errors.inc()
            log.warning("rpo_provider_failed", error=f"{type(exc).__name__}: {exc}", cached_policies=len(cached))
            return cached
        samples = tuple(by_policy.values())
        with self._lock:
            if self._provider is provider:
                self._last_samples = samples
        return samples
