"""Recording the end of an upgrade run: a halted cluster or failed gate is announced once (log and notification).

The CLI records the runs it drove; the daemon's finishers record the runs it
executed and, through ``count_finished``, those the CLI left uncounted. A run
is marked ``details.counted`` so it is announced once whoever records it.
"""

from __future__ import annotations

import structlog

from drd.operations.notification import Notification, Severity
from drd.operations.notify import Notifier
from drd.outcomes import Phase
from drd.store import Store
from drd.store.records import RunRecord
from drd.upgrades.progress import CLUSTER_KIND, failure_of

log = structlog.get_logger(__name__)


def finish_upgrade_run(store: Store, run_id: str, *, notifier: Notifier | None = None) -> RunRecord:
    """Announce a finished upgrade-cluster or upgrade-stage run once: ``info`` when done, a halt otherwise."""
    run = store.get_run(run_id)
    if not run.phase.terminal or run.details.get("counted"):
        return run
    plan, _, part = run.subject.partition("/")
    what = "cluster" if run.kind == CLUSTER_KIND else "stage"
    skipped = run.details.get("skipped")
    if run.phase is Phase.COMPLETED or skipped:
        log.info("upgrade_run_finished", run=run.id, plan=plan, **{what: part}, phase=run.phase.value)
    else:
        reason = failure_of(run)
        log.warning("upgrade_halted", run=run.id, plan=plan, **{what: part}, phase=run.phase.value, reason=reason)
        if notifier is not None:
            notifier.notify(_halted(run, plan, what, part, reason))
    return store.update_run(run_id, details={**run.details, "counted": True})


def _halted(run: RunRecord, plan: str, what: str, part: str, reason: str) -> Notification:
    return Notification(
        reason="UpgradeHalted",
        severity=Severity.CRITICAL,
        title=f"Upgrade {plan} halted at {what} {part}",
        text=f"{reason}. Nothing more is upgraded until an operator runs `drd upgrade resume {plan}` "
        f"(or `drd upgrade skip {plan} --cluster …`).",
        cluster=part if what == "cluster" else None,
        fields={"Plan": plan, what.capitalize(): part, "Run": run.id},
        key=f"upgrade/{plan}/{part}/halted",
    )
