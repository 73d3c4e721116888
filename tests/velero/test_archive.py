"""Velero archive format: tarball layout, resource list, side files, and refusal of bad archives."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from drd.velero.archive import (
    ArchiveError,
    BackupItem,
    gunzip_json,
    gzip_json,
    read_backup_tarball,
    resource_list,
    write_backup_tarball,
)
from drd.velero.layout import BucketLayout
from drd.velero.results import Results
from drd.velero.vocabulary import go_duration, valid_label_value


def a_deployment(name: str = "web", namespace: str = "shop") -> BackupItem:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}}
    return BackupItem("apps", "v1", "deployments", "Deployment", name, namespace, obj)


def a_namespace(name: str = "shop") -> BackupItem:
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    return BackupItem("", "v1", "namespaces", "Namespace", name, None, obj)


def _member_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return [m.name for m in tar]


def test_tarball_uses_velero_paths_with_preferred_version_copies():
    """Each item is written at its group-resource path and again under <version>-preferredversion (§2.2)."""
    names = _member_names(write_backup_tarball([a_deployment(), a_namespace()]))
    assert names == [
        "metadata/version",
        "resources/deployments.apps/namespaces/shop/web.json",
        "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json",
        "resources/namespaces/cluster/shop.json",
        "resources/namespaces/v1-preferredversion/cluster/shop.json",
    ]


def test_tarball_members_are_regular_files_with_mode_0755():
    """Velero writes no directory entries and mode 0755 files (§2.2)."""
    with tarfile.open(fileobj=io.BytesIO(write_backup_tarball([a_deployment()])), mode="r:gz") as tar:
        assert all(m.isfile() and m.mode == 0o755 for m in tar)


def test_tarball_round_trips_objects_once_each():
    """Reading a tarball returns the format version and each object once (the primary copy)."""
    version, objects = read_backup_tarball(write_backup_tarball([a_deployment(), a_namespace()]))
    assert version == "1.1.0"
    assert [(o.group_resource, o.namespace, o.name) for o in objects] == [
        ("deployments.apps", "shop", "web"),
        ("namespaces", None, "shop"),
    ]
    assert objects[0].obj["kind"] == "Deployment"


def test_garbage_is_refused_with_an_archive_error():
    """Bytes that are not a gzip'd tar raise ArchiveError, not a library exception."""
    with pytest.raises(ArchiveError, match="not a gzip'd tar"):
        read_backup_tarball(b"definitely not a tarball")


def test_archive_without_version_is_refused():
    """A tar without metadata/version is not a Velero backup."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w"):
        pass
    with pytest.raises(ArchiveError, match="metadata/version"):
        read_backup_tarball(buffer.getvalue())


def test_resource_list_groups_by_group_version_kind():
    """The resource list maps group/version/Kind (core: v1/Kind) to sorted ns/name entries (§2.1)."""
    listing = resource_list([a_deployment("web"), a_deployment("api"), a_namespace()])
    assert listing == {"apps/v1/Deployment": ["shop/api", "shop/web"], "v1/Namespace": ["shop"]}


def test_side_files_are_gzipped_json():
    """Side files round-trip through gzip(JSON)."""
    assert gunzip_json(gzip_json({"a": [1, 2]})) == {"a": [1, 2]}


def test_results_are_omitempty_and_counted():
    """Results serialise only non-empty groups and count every message."""
    results = Results()
    results.warnings.add("could not restore, ConfigMap:c already exists", namespace="shop")
    results.warnings.add("cluster-wide note")
    assert results.to_json() == {
        "warnings": {
            "cluster": ["cluster-wide note"],
            "namespaces": {"shop": [results.warnings.namespaces["shop"][0]]},
        },
        "errors": {},
    }
    assert results.warnings.count() == 2
    assert Results.from_json(results.to_json()).warnings.count() == 2


def test_layout_keys_follow_velero():
    """Keys are the ones Velero uses, under the location's prefix (§2.1)."""
    layout = BucketLayout("cluster-a")
    assert layout.backup_metadata("b1") == "cluster-a/backups/b1/velero-backup.json"
    assert layout.backup_contents("b1") == "cluster-a/backups/b1/b1.tar.gz"
    assert layout.backup_resource_list("b1") == "cluster-a/backups/b1/b1-resource-list.json.gz"
    assert layout.restore_results("r1") == "cluster-a/restores/r1/restore-r1-results.gz"
    assert layout.restore_volume_info("r1") == "cluster-a/restores/r1/r1-volumeinfo.json.gz"
    assert BucketLayout().backup_log("b1") == "backups/b1/b1-logs.gz"


def test_unknown_top_level_directories_are_reported():
    """A foreign top-level directory makes a location invalid (§1.4 IsValid)."""
    layout = BucketLayout()
    assert layout.invalid_top_level_dirs(["backups/", "restores/", "junk/"]) == ["junk"]


def test_long_names_are_hashed_into_valid_label_values():
    """Names over 63 chars become 57 chars plus 6 hex chars of sha256, like GetValidName (§1.1)."""
    name = "x" * 70
    value = valid_label_value(name)
    assert len(value) == 63
    assert value.startswith("x" * 57)
    assert valid_label_value("short") == "short"


def test_ttls_are_written_as_go_durations():
    """TTL seconds format like Go's time.Duration (720h0m0s)."""
    assert go_duration(30 * 24 * 3600) == "720h0m0s"
    assert go_duration(5400) == "1h30m0s"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("720h0m0s", 2592000.0), ("1h30m", 5400.0), ("90s", 90.0), ("0", 0.0), ("1.5h", 5400.0), ("500ms", 0.5)],
)
def test_go_durations_parse_to_seconds(text, seconds):
    """Go duration strings (Velero's TTLs, @every intervals) parse to seconds."""
    from drd.velero.timefmt import parse_go_duration

    assert parse_go_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 days", "h", "10x", "1h 30m"])
def test_malformed_go_durations_name_the_accepted_form(text):
    """Anything but a Go duration is refused with the accepted form in the message."""
    from drd.velero.timefmt import parse_go_duration

    with pytest.raises(ValueError, match="expected a Go duration"):
        parse_go_duration(text)
