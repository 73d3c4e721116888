"""Schedules (velero.md §1.3), DownloadRequests (§1.7) and ServerStatusRequests (§1.8)."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime

import pytest

from drd.clients.kube_resources import (
    VELERO_BACKUPS,
    VELERO_DOWNLOAD_REQUESTS,
    VELERO_SCHEDULES,
    VELERO_STATUS_REQUESTS,
)
from drd.sandbox.velero.schedules import next_after
from drd.velero import archive
from tests.sandbox.velero.support import backup, create, eventually


def test_a_due_schedule_creates_a_timestamped_backup_with_the_schedule_label(sandbox, primary):
    """§1.3: the Backup is named <schedule>-<YYYYMMDDhhmmss>, labelled velero.io/schedule-name, and lastBackup set."""
    create(primary, VELERO_SCHEDULES, "hourly", {"schedule": "@every 1s", "template": {"includedNamespaces": ["shop"]}})
    made = eventually(
        lambda: (
            primary.list_objects(
                VELERO_BACKUPS, namespace="velero", label_selector="velero.io/schedule-name=hourly"
            ).items
        ),
        timeout=15,
    )
    assert made[0]["metadata"]["name"].startswith("hourly-")
    assert len(made[0]["metadata"]["name"]) == len("hourly-") + 14
    schedule = primary.get(VELERO_SCHEDULES, "hourly", namespace="velero")
    assert schedule["status"]["phase"] == "Enabled"
    assert schedule["status"]["lastBackup"]


def test_an_invalid_cron_expression_fails_validation(primary):
    """§1.3: a bad cron expression puts the Schedule in FailedValidation with 'invalid schedule'."""
    create(primary, VELERO_SCHEDULES, "broken", {"schedule": "every day", "template": {}})
    schedule = eventually(
        lambda: (
            (s := primary.get(VELERO_SCHEDULES, "broken", namespace="velero")).get("status", {}).get("phase")
            == "FailedValidation"
            and s
        )
    )
    assert schedule["status"]["validationErrors"][0].startswith("invalid schedule")


def test_a_paused_schedule_creates_nothing(sandbox, primary):
    """§1.3: paused schedules are not run."""
    create(primary, VELERO_SCHEDULES, "paused", {"schedule": "@every 1s", "paused": True, "template": {}})
    eventually(
        lambda: primary.get(VELERO_SCHEDULES, "paused", namespace="velero").get("status", {}).get("phase") == "Enabled"
    )
    sandbox.cluster("primary-east").velero.run_periodic_now()
    assert not primary.list_objects(
        VELERO_BACKUPS, namespace="velero", label_selector="velero.io/schedule-name=paused"
    ).items


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 * * * *", "2026-06-01T01:30:00+00:00", "2026-06-01T02:00:00+00:00"),
        ("@daily", "2026-06-01T01:30:00+00:00", "2026-06-02T00:00:00+00:00"),
        ("@every 6h", "2026-06-01T01:30:00+00:00", "2026-06-01T07:30:00+00:00"),
        ("CRON_TZ=Europe/Paris 0 3 * * *", "2026-06-01T00:00:00+00:00", "2026-06-01T01:00:00+00:00"),
    ],
)
def test_cron_expressions_follow_robfig_parse_standard(expression, after, expected):
    """§1.3: five fields, macros, @every and a CRON_TZ prefix."""
    assert next_after(expression, datetime.fromisoformat(after)).astimezone(UTC) == datetime.fromisoformat(expected)


def test_download_request_gives_a_working_presigned_url(primary):
    """§1.7: a DownloadRequest for BackupResourceList is Processed with a URL serving the gzip'd JSON."""
    backup(primary, "b-dl", includedNamespaces=["shop"])
    create(primary, VELERO_DOWNLOAD_REQUESTS, "dl-1", {"target": {"kind": "BackupResourceList", "name": "b-dl"}})
    request = eventually(
        lambda: (
            (r := primary.get(VELERO_DOWNLOAD_REQUESTS, "dl-1", namespace="velero")).get("status", {}).get("phase")
            == "Processed"
            and r
        )
    )
    with urllib.request.urlopen(request["status"]["downloadURL"], timeout=10) as response:
        listing = archive.gunzip_json(response.read())
    assert "shop/storefront" in listing["apps/v1/Deployment"]


def test_server_status_request_reports_version_and_plugins(primary):
    """§1.8: a ServerStatusRequest is Processed with serverVersion and the plugin list."""
    create(primary, VELERO_STATUS_REQUESTS, "ssr-1", {})
    request = eventually(
        lambda: (
            (r := primary.get(VELERO_STATUS_REQUESTS, "ssr-1", namespace="velero")).get("status", {}).get("phase")
            == "Processed"
            and r
        )
    )
    assert request["status"]["serverVersion"] == "v1.18.1"
    assert {"name": "velero.io/aws", "kind": "ObjectStore"} in request["status"]["plugins"]


@pytest.mark.parametrize(
    ("kind", "name"),
    [("RestoreResults", "ghost"), ("BackupResourceList", "ghost"), ("RestoreLog", "")],
    ids=["missing restore", "missing backup", "no name"],
)
def test_download_request_for_a_missing_target_only_gets_an_expiration(primary, kind, name):
    """§1.7 (v1.18): Velero stamps status.expiration, gives no phase or URL, and does not retry; expiry deletes it."""
    create(primary, VELERO_DOWNLOAD_REQUESTS, "dl-missing", {"target": {"kind": kind, "name": name}})
    request = eventually(
        lambda: (r := primary.get(VELERO_DOWNLOAD_REQUESTS, "dl-missing", namespace="velero")).get("status") and r
    )
    assert list(request["status"]) == ["expiration"]
