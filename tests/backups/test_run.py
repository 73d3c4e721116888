"""Backup workflows against the sandbox: Schedules from policies, on-demand backups, retention by DeleteBackupRequest.

Aspects: a reconciled Schedule that the simulated Velero turns into Backups
attributable to the policy; drift corrected and reported; checks before
acting (Velero installed, storage location exists, Available, writable);
backup now, mirroring Velero's terminal phase; pruning that deletes through
Velero and spares the newest good backup, backups in use and unfinished
ones; API faults raised as typed temporary errors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drd.backups import observe, run
from drd.clients.errors import KubeUnavailable
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_SCHEDULES, VELERO_STORAGE_LOCATIONS
from drd.clock import SystemClock
from drd.errors import TemporaryError
from drd.operations import backup_manifests as render
from drd.operations import velero
from drd.outcomes import Phase
from drd.sandbox.topology import PRIMARY_BUCKET
from drd.velero.layout import BucketLayout
from drd.velero.timefmt import rfc3339
from tests.backups.builders import a_policy, the_primary
from tests.sandbox.velero.support import eventually

NS = "velero"
CLOCK = SystemClock()


def made_backups(kube, policy: str = "shop") -> list[str]:
    """Names of the policy's backups, oldest first."""
    return sorted(b["metadata"]["name"] for b in velero.policy_backups(kube, policy, namespace=NS))


def backups_of(kube, policy, names: list[str]) -> list[str]:
    """Create one finished on-demand backup per name, in order, with the policy's scope."""
    for name in names:
        velero.create_backup(kube, render.backup_for(policy, the_primary(), name=name, trigger="test"), namespace=NS)
        velero.wait_for_backup(kube, name, namespace=NS, timeout_seconds=10)
    return names


# -- schedules ------------------------------------------------------------------------------------


def test_reconciling_creates_the_schedule_and_then_finds_it_unchanged(primary):
    """The first reconcile creates drd-shop (COMPLETED, action created); the next finds nothing to do."""
    policy = a_policy()
    first = run.reconcile_schedule(primary, policy, the_primary(), clock=CLOCK)
    second = run.reconcile_schedule(primary, policy, the_primary(), clock=CLOCK)
    assert (first.kind, first.subject, first.phase) == ("schedule", "shop", Phase.COMPLETED)
    assert (first.details["action"], second.details["action"], second.details["drift"]) == ("created", "unchanged", [])
    assert first.details["cluster"] == "primary-east"


def test_velero_runs_the_schedule_into_backups_attributable_to_the_policy(sandbox, primary):
    """Once due, Velero creates drd-shop-<timestamp> Backups carrying drd.dev/policy, and they complete."""
    run.reconcile_schedule(primary, a_policy(), the_primary(), clock=CLOCK)
    an_hour_ago = rfc3339(datetime.now(UTC) - timedelta(hours=1))  # as if the schedule last ran an hour ago
    primary.merge_patch(VELERO_SCHEDULES, "drd-shop", {"status": {"lastBackup": an_hour_ago}}, namespace=NS)
    sandbox.cluster("primary-east").velero.run_periodic_now()
    (name,) = eventually(lambda: made_backups(primary))
    done = velero.wait_for_backup(primary, name, namespace=NS, timeout_seconds=10)
    seen = observe.observation(done, cluster="primary-east")
    assert name.startswith("drd-shop-")
    assert seen is not None
    assert (seen.policy, seen.schedule, seen.trigger, seen.phase) == ("shop", "drd-shop", "schedule", "Completed")


def test_drift_in_the_schedule_is_corrected_and_reported(primary):
    """Someone shortens the ttl by hand: the next reconcile patches it back and says what drifted."""
    run.reconcile_schedule(primary, a_policy(ttl="30d"), the_primary(), clock=CLOCK)
    primary.merge_patch(VELERO_SCHEDULES, "drd-shop", {"spec": {"template": {"ttl": "168h0m0s"}}}, namespace=NS)
    outcome = run.reconcile_schedule(primary, a_policy(ttl="30d"), the_primary(), clock=CLOCK)
    assert (outcome.phase, outcome.details["action"]) == (Phase.COMPLETED, "updated")
    assert outcome.details["drift"] == ['spec.template.ttl: "168h0m0s" → "720h0m0s"']
    assert primary.get(VELERO_SCHEDULES, "drd-shop", namespace=NS)["spec"]["template"]["ttl"] == "720h0m0s"


def test_no_schedule_is_made_without_velero(bare):
    """A cluster without Velero's CRDs: FAILED, with a reason naming the cluster and what is missing."""
    outcome = run.reconcile_schedule(bare, a_policy(), the_primary(), clock=CLOCK)
    assert outcome.phase is Phase.FAILED
    assert outcome.details["reason"].startswith('kubernetes cluster "bare": Velero is not installed')


def test_no_schedule_is_made_for_a_missing_storage_location(primary):
    """A policy naming a BSL that does not exist fails before creating anything."""
    outcome = run.reconcile_schedule(primary, a_policy(storageLocation="nowhere"), the_primary(), clock=CLOCK)
    assert outcome.phase is Phase.FAILED
    assert 'BackupStorageLocation "nowhere" does not exist' in outcome.details["reason"]
    assert primary.find(VELERO_SCHEDULES, "drd-shop", namespace=NS) is None


def test_no_schedule_is_made_for_a_scope_that_selects_nothing(primary):
    """An empty scope would back up every namespace in Velero: FAILED_VALIDATION, nothing created."""
    outcome = run.reconcile_schedule(primary, a_policy(scope={}), the_primary(), clock=CLOCK)
    assert outcome.phase is Phase.FAILED_VALIDATION
    assert "selects nothing" in outcome.details["reason"]
    assert primary.find(VELERO_SCHEDULES, "drd-shop", namespace=NS) is None


def test_api_faults_during_a_reconcile_are_raised_as_temporary_errors(sandbox, primary):
    """A 500 is not an outcome: it is KubeUnavailable, which the daemon's job wrapper retries."""
    sandbox.cluster("primary-east").emulator.fail_next(1, status=500)
    with pytest.raises(KubeUnavailable) as caught:
        run.reconcile_schedule(primary, a_policy(), the_primary(), clock=CLOCK)
    assert isinstance(caught.value, TemporaryError)


# -- backup now -----------------------------------------------------------------------------------


def test_backup_now_and_wait_returns_completed_with_velero_s_figures(primary):
    """backup_now(wait) ends Completed; the outcome names the backup and carries item counts."""
    outcome = run.backup_now(primary, a_policy(), the_primary(), wait=True, timeout_seconds=10, clock=CLOCK)
    assert (outcome.kind, outcome.subject, outcome.phase) == ("backup", "shop", Phase.COMPLETED)
    assert outcome.details["backup"].startswith("drd-shop-")
    assert outcome.details["items_backed_up"] > 0
    labels = primary.get(VELERO_BACKUPS, outcome.details["backup"], namespace=NS)["metadata"]["labels"]
    assert (labels["drd.dev/policy"], labels["drd.dev/trigger"]) == ("shop", "cli")


@pytest.mark.parametrize(("fault", "phase"), [("PartiallyFailed", Phase.PARTIALLY_FAILED), ("Failed", Phase.FAILED)])
def test_backup_now_mirrors_velero_s_failures(sandbox, primary, fault, phase):
    """When Velero ends PartiallyFailed or Failed, so does the outcome (never a success)."""
    sandbox.velero_faults.backup_outcome = fault
    outcome = run.backup_now(primary, a_policy(), the_primary(), wait=True, timeout_seconds=10, clock=CLOCK)
    assert outcome.phase is phase
    assert not outcome.phase.succeeded


def test_backup_now_to_a_read_only_location_is_failed_validation(primary):
    """Velero refuses to write through a ReadOnly location; the outcome mirrors FailedValidation and says why."""
    primary.merge_patch(VELERO_STORAGE_LOCATIONS, "default", {"spec": {"accessMode": "ReadOnly"}}, namespace=NS)
    outcome = run.backup_now(primary, a_policy(), the_primary(), wait=True, timeout_seconds=10, clock=CLOCK)
    assert outcome.phase is Phase.FAILED_VALIDATION
    assert "read-only mode" in outcome.details["reason"]


def test_backup_now_without_waiting_is_pending(primary):
    """Without wait the outcome is PENDING with the name of the Backup created."""
    outcome = run.backup_now(primary, a_policy(), the_primary(), wait=False, timeout_seconds=10, clock=CLOCK)
    assert outcome.phase is Phase.PENDING
    assert primary.find(VELERO_BACKUPS, outcome.details["backup"], namespace=NS) is not None


# -- retention ------------------------------------------------------------------------------------


def test_pruning_deletes_through_velero_and_keeps_the_newest(sandbox, primary):
    """keepLast 1 of three: two DeleteBackupRequests, and Velero removes those backups and their data."""
    policy = a_policy(retention={"keepLast": 1})
    backups_of(primary, policy, ["drd-shop-1", "drd-shop-2", "drd-shop-3"])
    outcome = run.prune(primary, policy, the_primary(), in_use=frozenset(), clock=CLOCK)
    assert (outcome.kind, outcome.phase, outcome.details["pruned"]) == ("retention", Phase.COMPLETED, 2)
    assert outcome.details["pruned_backups"] == ["drd-shop-2", "drd-shop-1"]
    eventually(lambda: made_backups(primary) == ["drd-shop-3"])
    bucket, layout = sandbox.buckets[PRIMARY_BUCKET], BucketLayout("primary-east")
    assert not bucket.has(layout.backup_metadata("drd-shop-1"))
    assert bucket.has(layout.backup_metadata("drd-shop-3"))


def test_pruning_spares_backups_in_use_and_the_newest_good_one(sandbox, primary):
    """A backup a drill is restoring survives, and so does the newest Completed one behind a newer failure."""
    policy = a_policy(retention={"keepLast": 1})
    backups_of(primary, policy, ["drd-shop-1", "drd-shop-2", "drd-shop-3"])
    sandbox.velero_faults.backup_outcome = "Failed"
    backups_of(primary, policy, ["drd-shop-4"])
    outcome = run.prune(primary, policy, the_primary(), in_use=frozenset({"drd-shop-1"}), clock=CLOCK)
    assert outcome.details["pruned_backups"] == ["drd-shop-2"]
    eventually(lambda: made_backups(primary) == ["drd-shop-1", "drd-shop-3", "drd-shop-4"])


def test_pruning_refuses_through_a_read_only_location(primary):
    """Velero cannot delete through a ReadOnly location: FAILED with the reason, no request made."""
    policy = a_policy(retention={"keepLast": 1})
    backups_of(primary, policy, ["drd-shop-1", "drd-shop-2"])
    primary.merge_patch(VELERO_STORAGE_LOCATIONS, "default", {"spec": {"accessMode": "ReadOnly"}}, namespace=NS)
    outcome = run.prune(primary, policy, the_primary(), in_use=frozenset(), clock=CLOCK)
    assert (outcome.phase, outcome.details["pruned"]) == (Phase.FAILED, 0)
    assert 'BackupStorageLocation "default" is ReadOnly' in outcome.details["reason"]
    assert made_backups(primary) == ["drd-shop-1", "drd-shop-2"]


def test_a_policy_without_retention_rules_prunes_nothing():
    """No rules, no pruning (Velero's ttl expires backups): SKIPPED before any API call."""
    unreachable = KubeClient.from_api_url("http://127.0.0.1:9", cluster="unreachable")
    outcome = run.prune(unreachable, a_policy(), the_primary(), in_use=frozenset(), clock=CLOCK)
    assert (outcome.phase, outcome.details["pruned"]) == (Phase.SKIPPED, 0)
