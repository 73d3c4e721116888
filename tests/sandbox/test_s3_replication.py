"""Simulated S3 cross-region replication over moto: lag, overwrite, delete, pause, and a vanished bucket."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from drd.clients.errors import BucketNotFound, ObjectNotFound
from drd.clients.objectstore import S3Bucket
from drd.sandbox.s3 import BucketReplicator, MotoS3


@pytest.fixture
def buckets(moto: MotoS3) -> tuple[S3Bucket, S3Bucket]:
    primary = S3Bucket(moto.endpoint("us-east-1"), "velero-primary")
    replica = S3Bucket(moto.endpoint("us-west-2"), "velero-replica")
    primary.create()
    replica.create()
    return primary, replica


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_objects_appear_in_the_replica_once_the_lag_has_passed(buckets):
    """An object is copied only when its age exceeds the replication lag."""
    primary, replica = buckets
    replicator = BucketReplicator(primary, replica, lag_seconds=60)
    primary.put("backups/b1/velero-backup.json", b"{}")
    replicator.replicate_once()
    assert not replica.has("backups/b1/velero-backup.json")
    assert "backups/b1/velero-backup.json" in replicator.status.pending
    replicator.replicate_once(now=later(61))
    assert replica.get("backups/b1/velero-backup.json") == b"{}"


def test_overwritten_objects_are_copied_again(buckets):
    """A new version of a key at the source replaces the replica's copy."""
    primary, replica = buckets
    replicator = BucketReplicator(primary, replica)
    primary.put("k", b"one")
    replicator.replicate_once()
    primary.put("k", b"two")
    replicator.replicate_once()
    assert replica.get("k") == b"two"
    assert replicator.status.copied == 2


def test_deletions_are_replicated(buckets):
    """Deleting at the source deletes the replicated copy (delete-marker replication)."""
    primary, replica = buckets
    replicator = BucketReplicator(primary, replica)
    primary.put("backups/b1/b1.tar.gz", b"x")
    replicator.replicate_once()
    primary.delete("backups/b1/b1.tar.gz")
    replicator.replicate_once()
    assert not replica.has("backups/b1/b1.tar.gz")
    assert replicator.status.deleted == 1


def test_a_paused_replicator_copies_nothing_until_resumed(buckets):
    """Pausing simulates a broken replication link: the background thread copies nothing."""
    primary, replica = buckets
    replicator = BucketReplicator(primary, replica, poll_seconds=0.02).start()
    try:
        replicator.pause()
        primary.put("k", b"v")
        time.sleep(0.2)
        assert not replica.has("k")
        replicator.resume()
        for _ in range(100):
            if replica.has("k"):
                break
            time.sleep(0.02)
        assert replica.get("k") == b"v"
    finally:
        replicator.stop()


def test_a_vanished_source_bucket_is_counted_as_a_replication_error(buckets, moto):
    """When the source bucket disappears the replicator records the error and keeps running."""
    primary, replica = buckets
    replicator = BucketReplicator(primary, replica)
    moto.reset()
    replicator.replicate_once()
    assert replicator.status.errors == 1
    assert "does not exist" in replicator.status.last_error


def test_reading_a_missing_key_is_object_not_found(buckets):
    """A missing key is a typed ObjectNotFound naming the bucket."""
    primary, _ = buckets
    with pytest.raises(ObjectNotFound, match='s3 bucket "velero-primary"'):
        primary.get("nope")


def test_writing_to_a_missing_bucket_is_bucket_not_found(moto):
    """A bucket that does not exist is a typed BucketNotFound, not a botocore error."""
    with pytest.raises(BucketNotFound):
        S3Bucket(moto.endpoint("us-east-1"), "ghost").put("k", b"v")


def test_common_prefixes_list_backup_directories(buckets):
    """common_prefixes lists the 'directories' directly under a prefix, like Velero's ListCommonPrefixes."""
    primary, _ = buckets
    primary.put("backups/a/velero-backup.json", b"{}")
    primary.put("backups/b/velero-backup.json", b"{}")
    assert primary.common_prefixes("backups/") == ["backups/a/", "backups/b/"]
