"""The pure planner: which backup, refusals with their reason, per-object actions, estimates, guard rails.

Aspects covered: the newest good backup; ``--before`` (data taken before the moment); a named backup that is
Failed, expired, being deleted, not replicated yet (or whose source cluster could not be asked); newer backups
still replicating as a warning; namespace mapping errors; create/skip/update/replace per object; the estimate
from past drills; a live namespace needs ``--existing update``/``--replace``, and ``--yes`` needs
``--i-understand-live-namespace``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drd.operations.restore_verification import ObjectKey
from drd.restore.plan import (
    Choice,
    Facts,
    NamespaceFacts,
    PlanError,
    Request,
    choose_backup,
    make_plan,
    namespace_mapping,
)
from drd.velero.timefmt import rfc3339

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def a_backup(name: str, *, taken: datetime, phase: str = "Completed", **status: object) -> dict:
    return {
        "metadata": {"name": name, "labels": {"drd.dev/policy": "shop"}},
        "spec": {"includedNamespaces": ["shop"], "storageLocation": "default"},
        "status": {
            "phase": phase,
            "startTimestamp": rfc3339(taken),
            "completionTimestamp": rfc3339(taken + timedelta(minutes=1)),
            "expiration": rfc3339(taken + 30 * 24 * HOUR),
            **status,
        },
    }


def a_request(**overrides: object) -> Request:
    values: dict = {"application": "shop", "target_cluster": "dr-west", "source_cluster": "primary-east"}
    return Request(**(values | overrides))


BACKUPS = [
    a_backup("shop-1", taken=NOW - 3 * HOUR),
    a_backup("shop-2", taken=NOW - 2 * HOUR),
    a_backup("shop-3", taken=NOW - HOUR, phase="PartiallyFailed"),
]


def test_the_newest_completed_backup_is_chosen_by_default():
    """PartiallyFailed backups are never chosen automatically."""
    choice = choose_backup(a_request(), BACKUPS, now=NOW, source_backups=BACKUPS)
    assert (choice.backup or {})["metadata"]["name"] == "shop-2"
    assert choice.refusal is None


def test_before_picks_the_newest_good_backup_whose_data_was_taken_before_the_moment():
    """--before 2h30m ago: shop-2 (taken 2h ago) is too recent, shop-1 (3h ago) is it."""
    choice = choose_backup(a_request(before=NOW - 150 * timedelta(minutes=1)), BACKUPS, now=NOW)
    assert (choice.backup or {})["metadata"]["name"] == "shop-1"


def test_before_any_backup_is_refused_saying_so():
    """Nothing was taken before the moment: refused, naming the moment."""
    choice = choose_backup(a_request(before=NOW - 10 * HOUR), BACKUPS, now=NOW)
    assert choice.backup is None
    assert choice.refusal == "no Completed backup of shop in dr-west taken before 2026-03-01 02:00:00Z"


@pytest.mark.parametrize(
    ("backup", "doomed", "reason"),
    [
        (a_backup("b", taken=NOW - HOUR, phase="Failed", failureReason="upload failed"), (),
         "backup b is Failed (upload failed): it holds nothing restorable"),
        (a_backup("b", taken=NOW - HOUR, phase="InProgress"), (), "backup b is InProgress: it has not finished"),
        (a_backup("b", taken=NOW - 31 * 24 * HOUR), (), "backup b expired at 2026-02-28 12:00:00Z"),
        (a_backup("b", taken=NOW - HOUR), ("b",), "backup b is being deleted"),
    ],
    ids=["failed", "unfinished", "expired", "being-deleted"],
)  # fmt: skip
def test_a_named_backup_that_cannot_be_restored_is_refused_with_the_reason(backup, doomed, reason):
    """Failed, unfinished, expired and doomed backups are refused; the reason names the backup."""
    choice = choose_backup(a_request(backup="b"), [backup], now=NOW, doomed=doomed)
    assert choice.backup is None
    assert (choice.refusal or "").startswith(reason)


def test_a_backup_not_yet_replicated_is_refused_as_such():
    """In primary-east but not yet in dr-west: replication is behind, said so."""
    choice = choose_backup(a_request(backup="shop-4"), BACKUPS, now=NOW, source_backups=[a_backup("shop-4", taken=NOW)])
    assert choice.refusal == (
        "backup shop-4 exists in primary-east but has not replicated to dr-west yet "
        "(bucket replication or Velero's backup sync is behind)"
    )


def test_with_the_source_cluster_unreachable_a_missing_backup_says_it_could_not_be_asked():
    """The primary region is gone: the refusal says the source could not be asked, and why."""
    choice = choose_backup(a_request(backup="shop-4"), BACKUPS, now=NOW, source_error="connection refused")
    assert choice.refusal == "backup shop-4 is not in dr-west (and primary-east could not be asked: connection refused)"


def test_newer_backups_still_replicating_are_a_warning():
    """The newest in dr-west is restored, with a warning naming the newer one that has not arrived."""
    newer = a_backup("shop-9", taken=NOW - timedelta(minutes=5))
    choice = choose_backup(a_request(), BACKUPS, now=NOW, source_backups=[*BACKUPS, newer])
    assert (choice.backup or {})["metadata"]["name"] == "shop-2"
    assert choice.warnings == ("1 newer backup(s) in primary-east have not replicated to dr-west yet (newest shop-9)",)


def test_namespace_options_that_do_not_fit_the_backup_are_usage_errors():
    """--namespace outside the backup, and --as over two namespaces, are refused before anything happens."""
    with pytest.raises(PlanError, match="--namespace billing: not in the backup"):
        namespace_mapping(a_request(namespaces=("billing",)), ["shop"])
    with pytest.raises(PlanError, match="--as maps one namespace"):
        namespace_mapping(a_request(as_namespace="x"), ["shop", "web"])
    assert namespace_mapping(a_request(as_namespace="shop-copy"), ["shop"]) == {"shop": "shop-copy"}


LISTING = {
    "v1/Namespace": ["shop"],
    "apps/v1/Deployment": ["shop/storefront", "shop/checkout"],
    "v1/ConfigMap": ["shop/settings"],
}
NAMES = {
    "v1/Namespace": frozenset({"namespaces", "namespace"}),
    "apps/v1/Deployment": frozenset({"deployments", "deployments.apps", "deployment"}),
    "v1/ConfigMap": frozenset({"configmaps", "configmap"}),
}


def plan_for(request: Request, *, live: bool, drills: dict | None = None) -> dict:
    present = {ObjectKey("v1", "Namespace", "", "shop"), ObjectKey("apps/v1", "Deployment", "shop", "storefront")}
    facts = Facts(
        resource_list=LISTING,
        resource_names=NAMES,
        present=frozenset(present),
        namespaces={"shop": NamespaceFacts(True, workloads=("Deployment/storefront",) if live else ())},
        drill_seconds=drills or {},
        rto_seconds=120.0,
    )
    choice = Choice(BACKUPS[1])
    return make_plan(
        request, choice, facts, mapping={"shop": "shop"}, now=NOW, target={"cluster": "dr-west"}, source={}
    )


def test_each_object_of_the_backup_is_planned_create_skip_update_or_replace():
    """Existing objects follow --existing (skip by default) or --replace; absent ones are created."""
    actions = {o["name"]: o["action"] for o in plan_for(a_request(), live=False)["objects"]}
    assert actions == {"shop": "keep", "storefront": "skip", "checkout": "create", "settings": "create"}
    updated = {o["name"]: o["action"] for o in plan_for(a_request(existing="update"), live=False)["objects"]}
    assert updated["storefront"] == "update"
    replaced = {o["name"]: o["action"] for o in plan_for(a_request(replace=True), live=False)["objects"]}
    assert replaced["storefront"] == replaced["shop"] == "replace"


def test_resource_filters_leave_objects_out_of_the_plan():
    """--include-resources deployments keeps Deployments (and the Namespace, which Velero creates)."""
    plan = plan_for(a_request(include_resources=("deployments",)), live=False)
    assert sorted(o["kind"] for o in plan["objects"]) == ["apps/v1/Deployment", "apps/v1/Deployment", "v1/Namespace"]


def test_the_estimate_is_the_median_restore_and_verify_of_past_drills():
    """Three drills: the median restore plus the median verification, next to the RTO objective."""
    plan = plan_for(a_request(), live=False, drills={"restore": [10.0, 30.0, 20.0], "verify": [5.0, 1.0]})
    assert plan["estimate"] == {
        "seconds": 23.0, "restoreSeconds": 20.0, "verifySeconds": 3.0, "drills": 3, "rtoSeconds": 120.0,
    }  # fmt: skip


def test_a_live_namespace_needs_update_or_replace_and_a_typed_confirmation():
    """Skip into a live namespace is refused; update asks for the namespace name; --yes alone is refused."""
    refused = plan_for(a_request(), live=True)
    assert "has live workloads: restoring into it needs --existing update (or --replace)" in refused["refusal"]
    typed = plan_for(a_request(existing="update"), live=True)
    assert typed["refusal"] is None
    assert typed["guard"] == {"liveNamespaces": ["shop"], "confirm": "type-namespace"}
    automated = plan_for(a_request(existing="update", yes=True), live=True)
    assert "--yes restores into it only with --i-understand-live-namespace" in automated["refusal"]
    allowed = plan_for(a_request(replace=True, yes=True, live_namespace_ok=True), live=True)
    assert allowed["refusal"] is None
