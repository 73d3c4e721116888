"""The daemon's rotation jobs: each RotationPolicy on its schedule, and when its credential outlives ``maxAge``.

Jobs only *submit* a rotation; the daemon's runbook pool executes it like any
run (a rotation may wait out its grace period for an hour), and the finisher
records it. A rotation already unfinished is never doubled: the job reports it
and returns.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from drd.clock import Clock
from drd.metrics import Metrics
from drd.outcomes import Outcome, Phase
from drd.policy.loader import Config
from drd.policy.models.rotation import RotationPolicy
from drd.rotation.run import KIND, RotationBusy, start_rotation
from drd.runbooks.assembly import Assembly
from drd.store import Store

log = structlog.get_logger(__name__)

RETRY_AFTER_FAILURE_SECONDS = 3600.0
"""A policy past its maxAge whose last rotation failed is tried again this long after that failure, not sooner."""


def start_scheduled_rotation(
    assembly: Assembly, config: Config, policy: RotationPolicy, *, trigger: str, lock_cluster: str, clock: Clock
) -> Outcome:
    """Submit one rotation of ``policy`` (skipped when one is unfinished)."""
    started = clock.now()
    try:
        record = start_rotation(
            assembly.engine,
            config,
            policy,
            trigger=trigger,
            requested_by=assembly.env.identity,
            lock_cluster=lock_cluster,
        )
    except RotationBusy as exc:
        return Outcome(KIND, policy.name, Phase.SKIPPED, started, clock.now(), {"reason": str(exc)})
    return Outcome(KIND, policy.name, Phase.IN_PROGRESS, started, clock.now(), {"run": record.id})


def check_rotation_ages(
    config: Config,
    store: Store,
    metrics: Metrics,
    *,
    rotate: Callable[[RotationPolicy], Outcome],
    clock: Clock,
) -> Outcome:
    """``drd_secret_age_seconds`` for every policy; a rotation started for each one older than its ``maxAge``."""
    started = clock.now()
    policies = config.of_kind(RotationPolicy)
    metrics.set_rotations(policies)
    due = []
    for name, policy in sorted(policies.items()):
        last = store.last_run(KIND, name, phase=Phase.COMPLETED)
        rotated = last.finished_at if last is not None else None
        age = (clock.now() - rotated).total_seconds() if rotated is not None else None
        metrics.set_secret_age(name, age)
        if policy.spec.max_age is None or age is None or age <= policy.spec.max_age.total_seconds():
            continue
        latest = store.last_run(KIND, name)
        failed_lately = (
            latest is not None
            and latest.phase is not Phase.COMPLETED
            and latest.finished_at is not None
            and (clock.now() - latest.finished_at).total_seconds() < RETRY_AFTER_FAILURE_SECONDS
        )
        if failed_lately:  # a cause that persists would otherwise restart consumers every 30 s
            log.info("rotation_backoff", rotation=name, last_run=latest.id if latest else None)
            continue
        due.append(name)
        log.info("rotation_due", rotation=name, age_seconds=round(age), max_age_seconds=policy.spec.max_age)
        rotate(policy)
    return Outcome("rotation-age", "rotations", Phase.COMPLETED, started, clock.now(), {"due": due})
