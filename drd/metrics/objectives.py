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

from prometheus_client import Counter
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from drd.clock import Clock
from drd.logs import get_logger
from drd.metrics.exposition import Format, RenderedFamily, family_header, go_float, label_text
from drd.metrics.families import Gauge
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
        self._prefixes = _Prefixes()
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
        """Compute the RPO of every sample at the clock's now and merge the pushed objectives.

        One provider call per scrape. The three families are built from that
        one snapshot, as rows whose line prefixes are made once per policy
        (:class:`_Prefixes`); the fast encoder writes the rows, prometheus-client's
        encoders get them as ordinary samples.
        """
        samples = self._samples()
        now = self._clock.now()
        prefixes = self._prefixes
        if len(prefixes) > 2 * len(samples) + 16:  # policies were removed by a reload
            prefixes.retain(sample.policy for sample in samples)
        rpo = _Rows(RPO_SECONDS, _RPO_HELP, ("policy",))
        partial = _Rows(RPO_PARTIALLY_FAILED, _PARTIAL_HELP, ("policy",))
        met = _Rows(OBJECTIVE_MET, _MET_HELP, ("policy", "objective"), pushed=self.pushed.metric)
        for sample in samples:
            rpo_prefix, partial_prefix, met_prefix = prefixes.of(sample.policy)
            age = sample.rpo_seconds(now)
            rpo.add((sample.policy,), rpo_prefix, age)
            partial.add((sample.policy,), partial_prefix, 1.0 if sample.partially_failed else 0.0)
            met.add((sample.policy, Objective.RPO.value), met_prefix, 1.0 if age <= sample.objective_seconds else 0.0)
        for rows in (rpo, partial, met):
            yield rows.family()

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


class _Prefixes:
    """The line prefixes of each policy's three rows, made once per policy rather than once per scrape."""

    def __init__(self) -> None:
        self._by_policy: dict[str, tuple[str, str, str]] = {}

    def of(self, policy: str) -> tuple[str, str, str]:
        """``drd_rpo_seconds{…} ``, ``drd_rpo_backup_partially_failed{…} ``, ``drd_objective_met{…rpo…} ``."""
        prefixes = self._by_policy.get(policy)
        if prefixes is None:
            labels = label_text([("policy", policy)])
            met = label_text([("policy", policy), ("objective", Objective.RPO.value)])
            prefixes = (f"{RPO_SECONDS}{labels} ", f"{RPO_PARTIALLY_FAILED}{labels} ", f"{OBJECTIVE_MET}{met} ")
            self._by_policy[policy] = prefixes
        return prefixes

    def retain(self, policies: Iterable[str]) -> None:
        """Forget the prefixes of policies that are no longer sampled."""
        keep = set(policies)
        self._by_policy = {policy: prefixes for policy, prefixes in self._by_policy.items() if policy in keep}

    def __len__(self) -> int:
        return len(self._by_policy)


class _Rows:
    """One gauge family of one scrape: (label values, line prefix, value) rows, then the pushed series."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...], *, pushed: Gauge | None = None) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.pushed = pushed
        self.rows: list[tuple[tuple[str, ...], str, float]] = []

    def add(self, values: tuple[str, ...], prefix: str, value: float) -> None:
        self.rows.append((values, prefix, value))

    def family(self) -> RenderedFamily:
        return RenderedFamily(self.name, self.documentation, "gauge", samples=self.samples, render=self.render)

    def samples(self) -> list[Sample]:
        """The rows as prometheus-client Samples (for its encoders and ``restricted_registry``)."""
        found = [
            Sample(self.name, dict(zip(self.labels, values, strict=True)), value, None, None)
            for values, _, value in self.rows
        ]
        if self.pushed is not None:
            for family in self.pushed.collect():
                found.extend(Sample(self.name, s.labels, s.value, None, None) for s in family.samples)
        return found

    def render(self, fmt: Format) -> str | None:
        """The family's exposition text (None when the pushed gauge has no fast form)."""
        pushed = self.pushed.sample_lines() if self.pushed is not None else ""
        if pushed is None:
            return None
        lines = "".join([f"{prefix}{go_float(value)}\n" for _, prefix, value in self.rows])
        return family_header(fmt, self.name, self.documentation, "gauge") + lines + pushed
