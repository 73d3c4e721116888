"""BackupPolicy → Velero Schedule and Backup (pure).

Aspects: names and labels that make every object attributable; the schedule
in Velero's cron dialect (time zones, macros, intervals as Go durations);
the scope translated to Velero's filters (empty means nothing in drd, all in
Velero); ttl, location and volume flags; policies Velero cannot express are
refused rather than rendered as something else.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drd.operations import backup_manifests as render
from drd.sandbox.velero.schedules import next_after
from tests.backups.builders import a_policy, the_primary

FILTERS = {
    "includedNamespaces",
    "excludedNamespaces",
    "includedResources",
    "excludedResources",
    "includeClusterResources",
    "labelSelector",
}
"""The BackupSpec keys that select what is backed up."""


def test_the_schedule_is_named_after_the_policy_in_the_velero_namespace():
    """Schedule drd-<policy> in the cluster's veleroNamespace, labelled managed-by drd and with the policy."""
    schedule = render.schedule_for(a_policy("shop"), the_primary(veleroNamespace="backup-system"))
    assert schedule["kind"] == "Schedule"
    assert schedule["metadata"] == {
        "name": "drd-shop",
        "namespace": "backup-system",
        "labels": {"app.kubernetes.io/managed-by": "drd", "drd.dev/policy": "shop"},
    }


def test_every_scheduled_backup_is_attributable_to_its_policy():
    """The template labels each generated Backup with the policy, drd and trigger schedule."""
    template = render.schedule_for(a_policy("shop"), the_primary())["spec"]["template"]
    assert template["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "drd",
        "drd.dev/policy": "shop",
        "drd.dev/trigger": "schedule",
    }


def test_the_schedule_is_unpaused_and_never_owns_its_backups():
    """paused false; useOwnerReferencesInBackup false, so deleting the Schedule never removes Backup objects."""
    spec = render.schedule_for(a_policy(), the_primary())["spec"]
    assert (spec["paused"], spec["useOwnerReferencesInBackup"]) == (False, False)


@pytest.mark.parametrize(
    ("schedule", "timezone", "expected"),
    [
        pytest.param("5 * * * *", None, "5 * * * *", id="cron in UTC as written"),
        pytest.param("30 2 * * *", "Europe/Berlin", "CRON_TZ=Europe/Berlin 30 2 * * *", id="time zone as CRON_TZ"),
        pytest.param("@daily", None, "0 0 * * *", id="macro expanded"),
        pytest.param("@daily", "America/New_York", "CRON_TZ=America/New_York 0 0 * * *", id="macro in a zone"),
        pytest.param("@every 6h", None, "@every 6h0m0s", id="interval as a Go duration"),
        pytest.param("@every 1d", None, "@every 24h0m0s", id="days become hours (Go has no d)"),
    ],
)
def test_the_schedule_is_written_in_velero_cron(schedule, timezone, expected):
    """Velero's cron is UTC unless prefixed CRON_TZ=, and its @every takes Go durations."""
    spec = {"schedule": schedule, "objectives": {"rpo": "2d"}, "ttl": "7d"}
    if timezone:
        spec["timezone"] = timezone
    rendered = render.schedule_for(a_policy(**spec), the_primary())["spec"]["schedule"]
    assert expected == rendered
    next_after(rendered, datetime(2026, 6, 1, tzinfo=UTC))  # Velero's parser (simulated) accepts it


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        pytest.param({"includedNamespaces": ["shop"]}, {"includedNamespaces": ["shop"]}, id="listed namespaces"),
        pytest.param({"includedNamespaces": ["*"]}, {"includedNamespaces": ["*"]}, id="all namespaces"),
        pytest.param(
            {"labelSelector": {"matchLabels": {"app": "shop"}}},
            {"includedNamespaces": ["*"], "labelSelector": {"matchLabels": {"app": "shop"}}},
            id="selector without namespaces means every namespace",
        ),
        pytest.param(
            {"includedNamespaces": ["shop", "shop-*", "shop-tmp"], "excludedNamespaces": ["shop-tmp"]},
            {"includedNamespaces": ["shop", "shop-*"], "excludedNamespaces": ["shop-tmp"]},
            id="an exclusion is never also an inclusion (Velero refuses that)",
        ),
        pytest.param(
            {
                "includedNamespaces": ["shop"],
                "includedResources": ["deployments.apps"],
                "excludedResources": ["events"],
                "includeClusterResources": False,
            },
            {
                "includedNamespaces": ["shop"],
                "includedResources": ["deployments.apps"],
                "excludedResources": ["events"],
                "includeClusterResources": False,
            },
            id="resource filters",
        ),
    ],
)
def test_the_scope_is_translated_to_velero_filters(scope, expected):
    """drd's scope becomes Velero's old-style filters; unset filters are left out (Velero's defaults apply)."""
    spec = render.backup_spec(a_policy(scope=scope))
    filters = {key: value for key, value in spec.items() if key in FILTERS}
    assert expected == filters


def test_ttl_location_and_volumes_come_from_the_policy():
    """ttl as a Go duration, the storage location, and the three volume flags set explicitly."""
    policy = a_policy(
        ttl="30d", storageLocation="west", volumes={"fsBackup": True, "snapshotVolumes": True, "snapshotMoveData": True}
    )
    spec = render.backup_spec(policy)
    assert (spec["ttl"], spec["storageLocation"]) == ("720h0m0s", "west")
    assert (spec["defaultVolumesToFsBackup"], spec["snapshotVolumes"], spec["snapshotMoveData"]) == (True, True, True)


def test_an_on_demand_backup_has_the_policys_scope_and_its_trigger():
    """backup_for: the given name, the policy's labels plus drd.dev/trigger, the same spec as the template."""
    policy = a_policy("shop")
    backup = render.backup_for(policy, the_primary(), name="drd-shop-20260601120000", trigger="cli")
    template = dict(render.schedule_for(policy, the_primary())["spec"]["template"])
    template.pop("metadata")
    assert (backup["kind"], backup["metadata"]["name"], backup["metadata"]["namespace"]) == (
        "Backup",
        "drd-shop-20260601120000",
        "velero",
    )
    assert backup["metadata"]["labels"]["drd.dev/trigger"] == "cli"
    assert backup["metadata"]["labels"]["drd.dev/policy"] == "shop"
    assert template == backup["spec"]


def test_backup_names_carry_the_utc_time_like_velero_s():
    """drd-<policy>-<YYYYMMDDhhmmss> in UTC, whatever the zone of the time given."""
    at = datetime.fromisoformat("2026-06-01T14:30:05+02:00")
    assert render.backup_name("shop", at) == "drd-shop-20260601123005"


def test_a_long_policy_name_still_gives_a_valid_schedule_label():
    """Velero copies the Schedule name unhashed into a label; drd keeps it within 63 characters."""
    name = "a" * 63
    assert len(render.schedule_name(name)) == 63
    assert render.schedule_name(name).startswith("drd-aaaa")


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        pytest.param({"scope": {}}, "selects nothing", id="empty scope"),
        pytest.param(
            {"scope": {"includeClusterResources": True}}, "cluster-scoped resources only", id="cluster resources only"
        ),
        pytest.param(
            {"schedule": "0 3 L * *", "objectives": {"rpo": "32d"}, "ttl": "60d"}, "uses L or #", id="last day"
        ),
        pytest.param(
            {"schedule": "0 3 * * 5#3", "objectives": {"rpo": "40d"}, "ttl": "60d"}, "uses L or #", id="nth weekday"
        ),
    ],
)
def test_a_policy_velero_cannot_express_is_refused(spec, problem):
    """An empty scope would mean *every* namespace to Velero, L and # break its cron: refuse, never approximate."""
    policy = a_policy(**spec)
    assert any(problem in found for found in render.problems(policy))
    with pytest.raises(render.UnsupportedPolicy, match=problem):
        render.schedule_for(policy, the_primary())


def test_month_names_are_not_mistaken_for_l():
    """JUL contains an L but is a month name Velero's parser accepts."""
    policy = a_policy(schedule="0 3 1 JUL *", objectives={"rpo": "366d"}, ttl="400d")
    assert render.problems(policy) == []
