"""The simulated Velero authenticates to S3 with the credentials in its Secret, as AWS would judge them."""

from __future__ import annotations

import base64
from typing import Any

from drd.clients.iam import IamAccount
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import SECRETS, VELERO_STORAGE_LOCATIONS
from drd.sandbox.environment import Sandbox
from drd.sandbox.s3 import VELERO_IAM_USER
from drd.velero.timefmt import parse_rfc3339
from tests.sandbox.velero.support import backup, eventually


def _install(kube: KubeClient, key_id: str, secret: str) -> None:
    """Write an access key into ``velero/cloud-credentials`` (what a rotation does)."""
    ini = f"[default]\naws_access_key_id={key_id}\naws_secret_access_key={secret}\n"
    data = {"cloud": base64.b64encode(ini.encode()).decode()}
    kube.merge_patch(SECRETS, "cloud-credentials", {"data": data}, namespace="velero")


def _location(kube: KubeClient, name: str = "default") -> dict[str, Any]:
    found = kube.find(VELERO_STORAGE_LOCATIONS, name, namespace="velero")
    assert found is not None
    return found


def _phase_becomes(kube: KubeClient, phase: str, name: str = "default") -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        location = _location(kube, name)
        return location if (location.get("status") or {}).get("phase") == phase else None

    result: dict[str, Any] = eventually(check)
    return result


def _original(sandbox: Sandbox) -> tuple[str, str]:
    key = sandbox.velero_access_key
    assert key is not None
    return key.id, key.secret.value


def test_every_cluster_starts_with_the_velero_users_real_key(sandbox: Sandbox, primary: KubeClient) -> None:
    """The sandbox creates IAM user ``velero`` with one Active key and installs it in each cluster's Secret."""
    key_id, _ = _original(sandbox)
    assert [(k.id, k.status) for k in sandbox.moto.iam().list_access_keys(VELERO_IAM_USER)] == [(key_id, "Active")]
    for cluster in sandbox.clusters.values():
        secret = cluster.kube.get(SECRETS, "cloud-credentials", namespace="velero")
        assert f"aws_access_key_id={key_id}" in base64.b64decode(secret["data"]["cloud"]).decode()
    assert _location(primary)["status"]["phase"] == "Available"


def test_backups_complete_end_to_end_with_the_real_key(sandbox: Sandbox, primary: KubeClient) -> None:
    """With the sandbox's own key, a backup completes and its tarball is in the bucket."""
    done = backup(primary, "with-real-key", includedNamespaces=["shop"])
    assert done["status"]["phase"] == "Completed"
    assert sandbox.buckets["drd-backups-us-east-1"].has("primary-east/backups/with-real-key/with-real-key.tar.gz")


def test_a_deleted_key_makes_the_location_unavailable_until_the_secret_is_fixed(
    sandbox: Sandbox, primary: KubeClient
) -> None:
    """A key deleted in IAM is refused with S3's InvalidAccessKeyId; the old key back in the Secret heals it."""
    iam: IamAccount = sandbox.moto.iam()
    doomed = iam.create_access_key(VELERO_IAM_USER)
    _install(primary, doomed.id, doomed.secret.value)
    iam.delete_access_key(VELERO_IAM_USER, doomed.id)
    refused = _phase_becomes(primary, "Unavailable")
    assert "InvalidAccessKeyId" in refused["status"]["message"]
    assert doomed.secret.value not in refused["status"]["message"]
    _install(primary, *_original(sandbox))
    assert _phase_becomes(primary, "Available")["status"].get("message") is None


def test_an_inactive_key_makes_the_location_unavailable_until_reactivated(
    sandbox: Sandbox, primary: KubeClient
) -> None:
    """AWS refuses a deactivated key (moto does not): the simulation does, and accepts it again once Active."""
    key_id, _ = _original(sandbox)
    iam = sandbox.moto.iam()
    iam.set_access_key_status(VELERO_IAM_USER, key_id, active=False)
    assert "InvalidAccessKeyId" in _phase_becomes(primary, "Unavailable")["status"]["message"]
    iam.set_access_key_status(VELERO_IAM_USER, key_id, active=True)
    _phase_becomes(primary, "Available")


def test_a_wrong_secret_is_a_signature_mismatch(sandbox: Sandbox, primary: KubeClient) -> None:
    """The right key id with another secret is refused with SignatureDoesNotMatch."""
    key_id, _ = _original(sandbox)
    _install(primary, key_id, "definitely-not-the-secret-of-this-key")
    assert "SignatureDoesNotMatch" in _phase_becomes(primary, "Unavailable")["status"]["message"]


def test_a_new_key_in_the_secret_is_used_at_the_next_operation(sandbox: Sandbox, primary: KubeClient) -> None:
    """No restart: after the Secret switches keys and the old key is deleted, a backup still completes."""
    old_id, _ = _original(sandbox)
    iam = sandbox.moto.iam()
    new = iam.create_access_key(VELERO_IAM_USER)
    _install(primary, new.id, new.secret.value)
    iam.delete_access_key(VELERO_IAM_USER, old_id)
    assert backup(primary, "after-rotation", includedNamespaces=["shop"])["status"]["phase"] == "Completed"


def test_a_backup_with_a_refused_key_fails(sandbox: Sandbox, primary: KubeClient) -> None:
    """With validation off (validationFrequency 0) the BSL stays Available; the upload is refused, the backup Failed."""
    primary.merge_patch(
        VELERO_STORAGE_LOCATIONS, "default", {"spec": {"validationFrequency": "0s"}}, namespace="velero"
    )
    key_id, _ = _original(sandbox)
    sandbox.moto.iam().set_access_key_status(VELERO_IAM_USER, key_id, active=False)
    failed = backup(primary, "refused", includedNamespaces=["shop"])
    assert failed["status"]["phase"] == "Failed"
    assert "InvalidAccessKeyId" in failed["status"]["failureReason"]


def test_validation_is_periodic(primary: KubeClient) -> None:
    """Each validation stamps lastValidationTime, so a later validation is visible after a change."""
    first = parse_rfc3339(_location(primary)["status"]["lastValidationTime"])
    assert first is not None
    eventually(lambda: (parse_rfc3339(_location(primary)["status"]["lastValidationTime"]) or first) > first)
