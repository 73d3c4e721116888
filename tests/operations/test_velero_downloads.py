"""Velero's files through DownloadRequests, against the sandbox (the simulated Velero signs real S3 URLs).

Aspects: a backup's resource list read in the DR cluster after sync, with no
S3 credentials, and the DownloadRequest cleaned up; a restore's resource list
and results, and the "already exists" warnings of objects it skipped; a
missing backup or restore reported as soon as Velero gives up; Velero not
running (a timeout that says so) or not installed; a file missing from the
bucket; a URL that fails (unreachable, an error answer, never showing its
signature); bodies that are not gzip or too large; Velero's message forms.
"""

from __future__ import annotations

import gzip
import time
from typing import Any

import pytest

from drd.clients.kube_resources import CONFIGMAPS, NAMESPACES, VELERO_BACKUPS, VELERO_DOWNLOAD_REQUESTS
from drd.errors import PermanentError, TemporaryError
from drd.operations import restores, velero, waiting
from drd.operations import velero_downloads as downloads
from drd.velero.layout import BucketLayout
from drd.velero.results import Result
from tests.support.web import Route, closed_port, web_server

NS = "velero"
SHOP_BACKUP = {
    "apps/v1/Deployment": ["shop/checkout", "shop/payment-webhook-consumer", "shop/storefront"],
    "apps/v1/StatefulSet": ["shop/postgres"],
    "batch/v1/CronJob": ["shop/newsletter"],
    "v1/ConfigMap": ["shop/storefront-config"],
    "v1/Namespace": ["shop"],
    "v1/Secret": ["shop/postgres-credentials"],
    "v1/Service": ["shop/checkout", "shop/postgres", "shop/storefront"],
    "v1/ServiceAccount": ["shop/shop"],
}
"""What the simulated Velero backs up of the sample shop (``includedNamespaces: [shop]``), besides what its
workload controllers make meanwhile (:data:`CONTROLLER_MADE`)."""
CONTROLLER_MADE = {"v1/Pod", "v1/PersistentVolumeClaim"}


def backed_up(primary, dr, name: str) -> None:
    """A backup of namespace shop made in the primary cluster, once backup sync has brought it to the DR cluster."""
    manifest = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name},
        "spec": {"includedNamespaces": ["shop"]},
    }
    velero.create_backup(primary, manifest, namespace=NS)
    velero.wait_for_backup(primary, name, namespace=NS, timeout_seconds=10)
    waiting.wait_for(dr, VELERO_BACKUPS, name, namespace=NS, until=lambda b: b, timeout_seconds=10, what="sync")


def restored(kube, name: str, *, backup: str, mapping: dict[str, str]) -> dict[str, Any]:
    """A finished Restore of ``backup`` with a namespace mapping."""
    manifest = restores.restore_manifest(name, backup=backup, namespace_mapping=mapping)
    restores.create_restore(kube, manifest, namespace=NS)
    return restores.wait_for_restore(kube, name, namespace=NS, timeout_seconds=10)


def test_the_backup_resource_list_is_read_in_the_dr_cluster_through_a_download_request(primary, dr):
    """A primary backup synced to dr-west lists its objects, fetched there with drd's API rights alone."""
    backed_up(primary, dr, "shop-dl")
    listing = downloads.backup_resource_list(dr, namespace=NS, backup="shop-dl", timeout_seconds=10)
    assert {k: v for k, v in listing.items() if k not in CONTROLLER_MADE} == SHOP_BACKUP
    assert all(entry.startswith("shop/") for kind in CONTROLLER_MADE for entry in listing.get(kind, []))


def test_the_download_request_is_deleted_once_the_file_is_read(primary, dr):
    """No DownloadRequest is left behind after a download."""
    backed_up(primary, dr, "shop-tidy")
    downloads.backup_resource_list(dr, namespace=NS, backup="shop-tidy", timeout_seconds=10)
    assert dr.list_objects(VELERO_DOWNLOAD_REQUESTS, namespace=NS).items == []


def test_the_restore_resource_list_gives_each_items_outcome(primary, dr):
    """A restore's resource list names restored objects in their new namespace with Velero's outcome."""
    backed_up(primary, dr, "shop-rl")
    restored(dr, "drill-rl", backup="shop-rl", mapping={"shop": "drill-shop-rl"})
    listing = downloads.restore_resource_list(dr, namespace=NS, restore="drill-rl", timeout_seconds=10)
    assert downloads.split_outcome(listing["apps/v1/Deployment"][0]) == ("drill-shop-rl/checkout", "created")
    assert listing["v1/Namespace"] == ["drill-shop-rl(created)"]


def test_objects_skipped_because_they_already_existed_are_named_from_the_restore_results(primary, dr):
    """Restoring over a different pre-existing ConfigMap leaves it alone; its warning is found and parsed."""
    backed_up(primary, dr, "shop-skip")
    dr.create(NAMESPACES, {"metadata": {"name": "drill-shop-skip"}})
    existing = {"metadata": {"name": "storefront-config"}, "data": {"CURRENCY": "USD"}}
    dr.create(CONFIGMAPS, existing, namespace="drill-shop-skip")
    done = restored(dr, "drill-skip", backup="shop-skip", mapping={"shop": "drill-shop-skip"})
    results = downloads.restore_results(dr, namespace=NS, restore="drill-skip", timeout_seconds=10)
    (skipped,) = results.skipped_existing()
    assert (skipped.namespace, skipped.kind, skipped.name) == ("drill-shop-skip", "ConfigMap", "storefront-config")
    assert (done["status"]["phase"], done["status"]["warnings"]) == ("Completed", 1)
    assert results.errors.count() == 0


def test_a_backup_the_cluster_does_not_have_is_reported_as_soon_as_velero_gives_up(dr):
    """A backup not (yet) synced raises DownloadTargetNotFound naming it, well before the timeout."""
    started = time.monotonic()
    with pytest.raises(
        downloads.DownloadTargetNotFound, match='backup "not-synced" does not exist in namespace velero'
    ):
        downloads.backup_resource_list(dr, namespace=NS, backup="not-synced", timeout_seconds=10)
    assert time.monotonic() - started < 5
    assert dr.list_objects(VELERO_DOWNLOAD_REQUESTS, namespace=NS).items == []


def test_a_restore_the_cluster_does_not_have_is_reported_naming_it(dr):
    """Results of a restore that does not exist raise DownloadTargetNotFound (a permanent KubeNotFound)."""
    with pytest.raises(downloads.DownloadTargetNotFound, match='restore "ghost" does not exist') as raised:
        downloads.restore_results(dr, namespace=NS, restore="ghost", timeout_seconds=10)
    assert isinstance(raised.value, PermanentError)
    assert 'kubernetes cluster "dr-west"' in str(raised.value)


def test_velero_not_running_is_a_timeout_that_says_so(sandbox, primary, dr):
    """When Velero never answers, DownloadTimedOut (temporary) asks whether its server is running."""
    backed_up(primary, dr, "shop-paused")
    sandbox.velero_faults.paused = True
    try:
        with pytest.raises(
            downloads.DownloadTimedOut, match="is the Velero server running in namespace velero"
        ) as raised:
            downloads.backup_resource_list(dr, namespace=NS, backup="shop-paused", timeout_seconds=0.5)
    finally:
        sandbox.velero_faults.clear()
    assert isinstance(raised.value, TemporaryError)
    assert 'BackupResourceList of backup "shop-paused"' in str(raised.value)
    assert dr.list_objects(VELERO_DOWNLOAD_REQUESTS, namespace=NS).items == []


def test_velero_not_installed_is_reported_naming_the_missing_resource(bare):
    """A cluster without Velero's CRDs raises VeleroNotInstalled naming downloadrequests.velero.io."""
    with pytest.raises(velero.VeleroNotInstalled, match=r"downloadrequests\.velero\.io"):
        downloads.backup_resource_list(bare, namespace=NS, backup="any", timeout_seconds=1)


def test_a_file_missing_from_the_bucket_is_velero_file_not_found(sandbox, primary):
    """Restore results lost from the bucket (#1978) raise DownloadedFileMissing, permanent, saying file not found."""
    velero.create_backup(
        primary,
        {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "b-lost"}, "spec": {}},
        namespace=NS,
    )
    velero.wait_for_backup(primary, "b-lost", namespace=NS, timeout_seconds=10)
    restored(primary, "r-lost", backup="b-lost", mapping={"shop": "shop-lost"})
    sandbox.buckets["drd-backups-us-east-1"].delete(BucketLayout("primary-east").restore_results("r-lost"))
    with pytest.raises(downloads.DownloadedFileMissing, match=r"file not found .*answered 404: NoSuchKey"):
        downloads.restore_results(primary, namespace=NS, restore="r-lost", timeout_seconds=10)


def test_an_unreachable_url_is_a_temporary_download_failure():
    """A refused connection raises DownloadFailed, a TemporaryError naming the file."""
    with pytest.raises(downloads.DownloadFailed, match=r"the-file: .*connection refused") as raised:
        downloads.fetch(
            f"http://127.0.0.1:{closed_port()}/b.gz?X-Amz-Signature=s3cr3t", what="the-file", timeout_seconds=2
        )
    assert isinstance(raised.value, TemporaryError)
    assert "s3cr3t" not in str(raised.value)


def test_an_error_answer_names_the_status_and_s3_code_but_never_the_signature():
    """A 403 from the object store raises DownloadFailed with "403: AccessDenied"; the query string is not shown."""
    denied = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    with web_server() as server:
        server.routes["/bucket/b.gz"] = Route(403, denied, {"Content-Type": "application/xml"})
        url = server.url("/bucket/b.gz?X-Amz-Signature=s3cr3t")
        with pytest.raises(downloads.DownloadFailed, match="answered 403: AccessDenied") as raised:
            downloads.fetch(url, what="the-file", timeout_seconds=2)
    assert "s3cr3t" not in str(raised.value)


def test_a_body_that_is_not_gzip_is_corrupt():
    """Bytes that are not gzip raise DownloadCorrupt, a PermanentError."""
    with pytest.raises(downloads.DownloadCorrupt, match="the-file: not gzip-compressed"):
        downloads.gunzip(b"<html>a proxy's login page</html>", what="the-file")


def test_a_file_that_decompresses_beyond_the_limit_is_refused():
    """A gzip body larger than max_bytes once decompressed raises DownloadCorrupt instead of filling memory."""
    with pytest.raises(downloads.DownloadCorrupt, match="decompresses to more than 1024 bytes"):
        downloads.gunzip(gzip.compress(b"0" * 4096), what="the-file", max_bytes=1024)


def test_an_unknown_target_kind_is_refused_before_asking_velero(bare):
    """A kind outside Velero's enum raises a PermanentError listing the accepted kinds; nothing is created."""
    with pytest.raises(PermanentError, match=r"unknown DownloadRequest target kind 'BackupTarball'.*BackupContents"):
        downloads.download(bare, namespace=NS, kind="BackupTarball", name="b", timeout_seconds=1)


@pytest.mark.parametrize(
    ("message", "kind", "name"),
    [
        (
            "could not restore, ConfigMap:settings already exists. Warning: the in-cluster version is different "
            "than the backed-up version",
            "ConfigMap",
            "settings",
        ),
        (
            'could not restore, ConfigMap "kube-root-ca.crt" already exists. Warning: the in-cluster version is '
            "different than the backed-up version",
            "ConfigMap",
            "kube-root-ca.crt",
        ),
        (
            'could not restore, rolebindings.rbac.authorization.k8s.io "backup-binding" already exists. Warning: '
            "the in-cluster version is different than the backed-up version.",
            "rolebindings.rbac.authorization.k8s.io",
            "backup-binding",
        ),
        (
            "could not restore, CustomResourceDefinition:ciliumendpoints.cilium.io already exists. Warning: the "
            "in-cluster version is different than the backed-up version",
            "CustomResourceDefinition",
            "ciliumendpoints.cilium.io",
        ),
    ],
    ids=["v1.18 Kind:name", "Kind quoted", "group-resource quoted", "cluster-scoped"],
)
def test_skipped_existing_reads_every_form_velero_wrote(message, kind, name):
    """The "already exists" warning yields kind and name in each form Velero versions wrote it."""
    (skipped,) = downloads.skipped_existing(Result(cluster=[message]))
    assert (skipped.namespace, skipped.kind, skipped.name, skipped.message) == (None, kind, name, message)


def test_other_warnings_are_not_taken_for_skipped_objects():
    """Warnings that are not "already exists" ones (a service account merge, an unserved type) are left out."""
    warnings = Result(
        namespaces={"shop": ["could not restore Widget w: resource type not served", "could not update Pod:p: x"]}
    )
    assert downloads.skipped_existing(warnings) == []


def test_messages_are_flattened_velero_then_cluster_then_namespaces_in_order():
    """messages() keeps where Velero filed each one: its own, the cluster's, then each namespace by name."""
    result = Result(velero=["v"], cluster=["c"], namespaces={"zeta": ["z"], "alpha": ["a1", "a2"]})
    assert [str(m) for m in downloads.messages(result)] == [
        "velero: v",
        "cluster: c",
        "namespace alpha: a1",
        "namespace alpha: a2",
        "namespace zeta: z",
    ]
