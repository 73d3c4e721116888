"""RPO now, per backup policy: the samples behind ``drd_rpo_seconds`` and the breach check that notifies.

The age of the newest restorable backup comes from drd's store (fed by the
backup observer), so it survives restarts and keeps growing while backups
stop. Samples are cached for a few seconds so that a scrape costs one store
pass however often Prometheus asks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from drd.clock import Clock
from drd.metrics.objectives import RpoSample
from drd.operations import backup_manifests as render
from drd.operations import notification
from drd.outcomes import Outcome, Phase
from drd.policy.loader import Config
from drd.policy.models.cluster import Cluster
from drd.store import Store

CACHE_SECONDS = 5.0

Notify = Callable[[notification.Notification, Cluster], None]


class RpoWatch:
    """Computes RPO samples from the store for the loaded policies, and checks them against objectives."""

    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._config: Config | None = None
        self._cache: tuple[float, tuple[RpoSample, ...]] | None = None
        self._lock = threading.Lock()

    def set_config(self, config: Config) -> None:
        with self._lock:
            self._config = config
            self._cache = None

    def invalidate(self) -> None:
        """Forget the cached samples (a backup just finished)."""
        with self._lock:
            self._cache = None

    def samples(self) -> tuple[RpoSample, ...]:
        """One sample per loaded backup policy (cached for :data:`CACHE_SECONDS`)."""
        with self._lock:
            now = self.clock.monotonic()
            if self._cache is not None and now - self._cache[0] < CACHE_SECONDS:
                return self._cache[1]
            config = self._config
        if config is None:
            return ()
        newest = self.store.newest_good_completions()
        found = []
        for policy in config.backup_policies.values():
            completed = newest.get((policy.name, "Completed"))
            partial = newest.get((policy.name, "PartiallyFailed")) if policy.spec.count_partially_failed else None
            from_partial = partial is not None and (completed is None or partial > completed)
            found.append(
                RpoSample.for_policy(policy, partial if from_partial else completed, partially_failed=from_partial)
            )
        samples = tuple(found)
        with self._lock:
            self._cache = (self.clock.monotonic(), samples)
        return samples

    def check(self, *, notify: Notify) -> Outcome:
        """Notify each policy whose RPO objective is breached (the notifier rate-limits repeats)."""
        started = self.clock.now()
        with self._lock:
            self._cache = None
            config = self._config
        breached = []
        for sample in self.samples():
            if sample.met(started) or config is None:
                continue
            breached.append(sample.policy)
            policy = config.backup_policies[sample.policy]
            cluster = config.source_cluster(policy)
            notice = notification.rpo_breached(
                policy=sample.policy,
                cluster=cluster.metadata.name,
                rpo_seconds=sample.rpo_seconds(started),
                objective_seconds=sample.objective_seconds,
                involved=notification.ObjectRef(
                    api_version="velero.io/v1",
                    kind="Schedule",
                    name=render.schedule_name(sample.policy),
                    namespace=cluster.spec.velero_namespace,
                ),
            )
            notify(notice, cluster)
        phase = Phase.COMPLETED if not breached else Phase.PARTIALLY_FAILED
        return Outcome("rpo", "policies", phase, started, self.clock.now(), {"breached": breached})
