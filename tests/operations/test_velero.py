"""Velero operations against the sandbox (real HTTP to the emulators, the Velero simulator doing the work).

Aspects: back up and wait by watching (terminal phases, a stuck backup's
timeout, a missing backup, riding out API errors); a Schedule kept as
declared (created, unchanged, drift corrected and reported, others' fields
and status untouched); deletion only through DeleteBackupRequests, which
Velero carries out; finding a policy's backups; storage locations; whether
Velero is installed; API faults as typed temporary errors.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from drd.clients.errors import KubeUnavailable
from drd.clients.kube_resources import VELERO_BACKUPS, VELERO_SCHEDULES
from drd.errors import PermanentError, TemporaryError
from drd.operations import velero
from drd.sandbox.topology import PRIMARY_BUCKET
from drd.velero.layout import BucketLayout
from tests.sandbox.velero.support import eventually

NS = "velero"
OURS = {"app.kubernetes.io/managed-by": "drd", "drd.dev/policy": "shop"}


def a_backup(name: str, *, policy_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A Backup manifest of namespace shop, labelled as policy shop's unless told otherwise."""
    labels = OURS if policy_labels is None else policy_labels
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "labels": labels},
        "spec": {"includedNamespaces": ["shop"], "ttl": "720h0m0s"},
    }


def a_schedule(ttl: str = "720h0m0s") -> dict[str, Any]:
    """Schedule drd-shop as drd renders it."""
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {"name": "drd-shop", "namespace": NS, "labels": OURS},
        "spec": {
            "schedule": "5 * * * *",
            "template": {"metadata": {"labels": OURS}, "includedNamespaces": ["shop"], "ttl": ttl},
            "paused": False,
            "useOwnerReferencesInBackup": False,
        },
    }


def completed(kube, name: str) -> dict[str, Any]:
    velero.create_backup(kube, a_backup(name), namespace=NS)
    return velero.wait_for_backup(kube, name, namespace=NS, timeout_seconds=10)


def test_waiting_for_a_backup_returns_it_completed_and_reports_each_phase(primary):
    """wait_for_backup returns the Completed object; on_phase saw each phase change once, ending Completed."""
    phases: list[str] = []
    velero.create_backup(primary, a_backup("b-wait"), namespace=NS)
    done = velero.wait_for_backup(
        primary,
        "b-wait",
        namespace=NS,
        timeout_seconds=10,
        on_phase=lambda o: phases.append(o.get("status", {}).get("phase", "")),
    )
    assert done["status"]["phase"] == "Completed"
    assert phases[-1] == "Completed"
    assert all(earlier != later for earlier, later in itertools.pairwise(phases))


def test_a_stuck_backup_times_out_naming_the_phase_it_is_stuck_in(sandbox, primary):
    """A backup that never finishes raises BackupTimeout, a TemporaryError saying it is still InProgress."""
    sandbox.velero_faults.backup_outcome = "Stuck"
    velero.create_backup(primary, a_backup("b-stuck"), namespace=NS)
    eventually(
        lambda: primary.get(VELERO_BACKUPS, "b-stuck", namespace=NS).get("status", {}).get("phase") == "InProgress"
    )
    with pytest.raises(velero.BackupTimeout) as caught:
        velero.wait_for_backup(primary, "b-stuck", namespace=NS, timeout_seconds=1)
    assert isinstance(caught.value, TemporaryError)
    assert caught.value.phase == "InProgress"
    assert 'backup "b-stuck" did not finish within 1s: still InProgress' in str(caught.value)


def test_waiting_for_a_backup_that_does_not_exist_fails_at_once(primary):
    """A name with no Backup raises BackupGone (a KubeNotFound), not a timeout."""
    with pytest.raises(velero.BackupGone, match='backup "nope" not found'):
        velero.wait_for_backup(primary, "nope", namespace=NS, timeout_seconds=10)


def test_a_wait_rides_out_api_errors(sandbox, primary):
    """Failed requests while waiting are retried until the deadline; the wait still ends Completed."""
    velero.create_backup(primary, a_backup("b-faults"), namespace=NS)
    sandbox.cluster("primary-east").emulator.fail_next(3, status=500, path_pattern=r"/backups")
    done = velero.wait_for_backup(primary, "b-faults", namespace=NS, timeout_seconds=10)
    assert done["status"]["phase"] == "Completed"


def test_api_errors_surface_as_typed_temporary_errors(sandbox, primary):
    """A 500 from the API server is KubeUnavailable, a TemporaryError the job wrapper retries."""
    sandbox.cluster("primary-east").emulator.fail_next(1, status=500)
    with pytest.raises(KubeUnavailable) as caught:
        velero.create_backup(primary, a_backup("b-500"), namespace=NS)
    assert isinstance(caught.value, TemporaryError)


def test_applying_a_schedule_creates_it_then_finds_it_unchanged(primary):
    """The first apply creates the Schedule; applying the same again changes nothing."""
    first = velero.apply_schedule(primary, a_schedule(), namespace=NS)
    second = velero.apply_schedule(primary, a_schedule(), namespace=NS)
    assert (first.action, second.action, second.drift) == ("created", "unchanged", ())
    assert primary.get(VELERO_SCHEDULES, "drd-shop", namespace=NS)["spec"]["template"]["ttl"] == "720h0m0s"


def test_drift_is_corrected_reported_and_nothing_else_is_touched(primary):
    """An edited ttl is patched back and reported; others' labels, other spec fields and status stay."""
    velero.apply_schedule(primary, a_schedule(), namespace=NS)
    eventually(lambda: primary.get(VELERO_SCHEDULES, "drd-shop", namespace=NS).get("status", {}).get("phase"))
    edit = {
        "metadata": {"labels": {"team": "commerce"}},
        "spec": {"template": {"ttl": "168h0m0s"}, "skipImmediately": True},
    }
    primary.merge_patch(VELERO_SCHEDULES, "drd-shop", edit, namespace=NS)
    change = velero.apply_schedule(primary, a_schedule(), namespace=NS)
    after = primary.get(VELERO_SCHEDULES, "drd-shop", namespace=NS)
    assert (change.action, change.drift) == ("updated", ('spec.template.ttl: "168h0m0s" → "720h0m0s"',))
    assert after["spec"]["template"]["ttl"] == "720h0m0s"
    assert (after["metadata"]["labels"]["team"], after["spec"]["skipImmediately"]) == ("commerce", True)
    assert after["status"]["phase"] == "Enabled"


def test_a_deletion_request_makes_velero_delete_the_backup_and_its_data(sandbox, primary):
    """The DeleteBackupRequest is made like the CLI's; Velero then removes the data and the Backup object."""
    backup = completed(primary, "b-delete")
    request = velero.request_backup_deletion(primary, backup, namespace=NS)
    assert request["metadata"]["name"].startswith("b-delete-")
    assert request["metadata"]["labels"]["velero.io/backup-name"] == "b-delete"
    assert request["metadata"]["labels"]["velero.io/backup-uid"] == backup["metadata"]["uid"]
    eventually(lambda: primary.find(VELERO_BACKUPS, "b-delete", namespace=NS) is None)
    bucket = sandbox.buckets[PRIMARY_BUCKET]
    assert not bucket.has(BucketLayout("primary-east").backup_metadata("b-delete"))


def test_policy_backups_are_only_drds_backups_of_that_policy(primary):
    """Backups of other policies, and look-alikes not managed by drd, are not the policy's."""
    velero.create_backup(primary, a_backup("ours"), namespace=NS)
    velero.create_backup(primary, a_backup("cart", policy_labels={**OURS, "drd.dev/policy": "cart"}), namespace=NS)
    velero.create_backup(primary, a_backup("helm", policy_labels={"drd.dev/policy": "shop"}), namespace=NS)
    found = velero.policy_backups(primary, "shop", namespace=NS)
    assert [b["metadata"]["name"] for b in found] == ["ours"]


def test_storage_locations_report_phase_access_mode_and_sync(dr):
    """The DR cluster's own location is Available and writable; the primary's replica is ReadOnly and syncs."""
    own = velero.storage_location_status(dr, "default", namespace=NS)
    replica = eventually(
        lambda: (s := velero.storage_location_status(dr, "primary-east", namespace=NS)).last_synced and s
    )
    missing = velero.storage_location_status(dr, "nowhere", namespace=NS)
    assert (own.exists, own.available, own.read_only, own.refusal(writes=True)) == (True, True, False, None)
    assert (replica.read_only, replica.refusal(writes=False)) == (True, None)
    assert "is ReadOnly" in (replica.refusal(writes=True) or "")
    assert (missing.exists, missing.refusal(writes=False)) == (False, 'BackupStorageLocation "nowhere" does not exist')


def test_velero_is_not_installed_once_its_backup_crd_is_gone(sandbox, primary):
    """Deleting backups.velero.io makes velero_installed false and require_velero name what is missing."""
    assert velero.velero_installed(primary)
    sandbox.cluster("primary-east").emulator.store.delete("customresourcedefinitions", "backups.velero.io")
    assert not velero.velero_installed(primary)
    with pytest.raises(velero.VeleroNotInstalled, match=r"does not serve backups\.velero\.io \(velero\.io/v1\)"):
        velero.require_velero(primary)


def test_a_cluster_without_velero_says_so_clearly(bare):
    """No velero.io group at all: a PermanentError naming the cluster and every missing resource."""
    with pytest.raises(velero.VeleroNotInstalled) as caught:
        velero.require_velero(bare)
    assert isinstance(caught.value, PermanentError)
    assert str(caught.value) == (
        'kubernetes cluster "bare": Velero is not installed: the API does not serve backups.velero.io, '
        "schedules.velero.io, backupstoragelocations.velero.io, deletebackuprequests.velero.io (velero.io/v1); "
        "install Velero (velero install) or check the cluster inventory"
    )
