"""The document models: rules within one document, derived values, defaults, immutability, and round trips.

Covers: the role rule for drills, connections, kubeconfig paths (no expansion),
time zones on schedules, the RPO and TTL rules against the schedule, retention
and volume rules, drill timeouts and namespace TTLs, check names and labels,
frozen models and maps, pickling, dumping back to YAML form, snake_case
construction in Python.
"""

from __future__ import annotations

import pickle
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from drd.policy import errors
from drd.policy.locations import format_path
from drd.policy.models.backup import BackupPolicy, BackupPolicySpec
from drd.policy.models.checks import HttpCheck, JobCheck
from drd.policy.models.cluster import Cluster, Connection, Role
from drd.policy.models.drill import DrillPolicy, WorkloadKind

from .builders import a_backup_policy, a_cluster, a_drill_policy, load

EXAMPLES = Path(__file__).parents[2] / "policies"


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """``data`` validated as the loader validates it: by YAML names only."""
    return model.model_validate(data, by_alias=True, by_name=False)


def refusals(model: type[BaseModel], data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(path, message)`` of every error validating ``data``."""
    with pytest.raises(ValidationError) as raised:
        validate(model, data)
    return [(format_path(loc), message) for loc, message in errors.translate(raised.value, model)]


@pytest.mark.parametrize(("role", "allowed"), [(Role.PRIMARY, False), (Role.DR, True), (Role.CANARY, True),
                                               (Role.STAGING, True)])  # fmt: skip
def test_drills_may_target_every_role_but_primary(role: Role, allowed: bool) -> None:
    """One rule, one place: Role.allows_drills."""
    assert role.allows_drills is allowed
    assert validate(Cluster, a_cluster(role=role.value)).allows_drills is allowed


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        pytest.param({"inCluster": True, "context": "x"}, ("spec.connection.inCluster", "inCluster: true cannot be "
                     "combined with kubeconfig or context"), id="in-cluster and a context"),
        pytest.param({}, ("spec.connection.context", "required: name the kubeconfig context, or set inCluster: true"),
                     id="neither"),
    ],
)  # fmt: skip
def test_a_cluster_is_reached_one_way(connection: dict[str, Any], expected: tuple[str, str]) -> None:
    """Either a kubeconfig context or in-cluster, never both and never neither (no current-context guessing)."""
    assert refusals(Cluster, a_cluster(connection=connection)) == [expected]


@pytest.mark.parametrize("path", ["${KUBECONFIG}", "~/.kube/config", "kubeconfig", "/etc/$HOME/config"])
def test_kubeconfig_paths_are_never_expanded(path: str) -> None:
    """Only absolute paths without variables: the same file means the same cluster everywhere."""
    ((where, message),) = refusals(Cluster, a_cluster(connection={"kubeconfig": path, "context": "dr-west"}))
    assert where == "spec.connection.kubeconfig"
    assert "environment variables and ~ are not expanded; omit kubeconfig to use the daemon's --kubeconfig" in message


def test_the_inventory_defaults() -> None:
    """Velero runs in ``velero``; the provider is generic unless said."""
    cluster = validate(Cluster, a_cluster(provider="generic", connection={"inCluster": True}))
    assert (cluster.spec.velero_namespace, cluster.spec.connection) == ("velero", Connection(in_cluster=True))


def test_a_time_zone_applies_to_the_schedule() -> None:
    """Cron fields are read in the policy's time zone."""
    data = a_backup_policy(schedule="0 3 * * *", timezone="Europe/Berlin", objectives={"rpo": "2d"})
    policy = validate(BackupPolicy, data)
    assert policy.spec.schedule.timezone == ZoneInfo("Europe/Berlin")


def test_an_interval_refuses_a_time_zone() -> None:
    """Intervals are absolute; a time zone with one is a mistake."""
    data = a_backup_policy(schedule="@every 1h", timezone="Europe/Berlin")
    assert refusals(BackupPolicy, data) == [
        ("spec.schedule", '"timezone" applies to cron schedules only; "@every" intervals are absolute')
    ]


def test_an_unknown_time_zone() -> None:
    """Time zones are IANA names."""
    assert refusals(BackupPolicy, a_backup_policy(timezone="CEST")) == [
        ("spec.timezone", 'unknown time zone "CEST": use UTC or an IANA name such as Europe/Berlin or America/New_York')
    ]


def test_the_ttl_must_outlast_the_gap_between_backups() -> None:
    """Backups that expire before the next one leaves times without any backup."""
    ((where, message),) = refusals(
        BackupPolicy, a_backup_policy(schedule="@daily", ttl="12h", objectives={"rpo": "2d"})
    )
    assert (where, message[:52]) == ("spec.ttl", "ttl 12h does not outlast the longest gap between sch")


def test_retention_must_keep_something() -> None:
    """All-zero retention would delete every backup."""
    assert refusals(BackupPolicy, a_backup_policy(retention={"keepLast": 0, "daily": 0})) == [
        ("spec.retention", "every retention rule is 0, so no backup would be kept")
    ]


def test_moving_snapshot_data_needs_snapshots() -> None:
    """snapshotMoveData moves snapshot data, so snapshots must be on."""
    assert refusals(BackupPolicy, a_backup_policy(volumes={"snapshotMoveData": True})) == [
        ("spec.volumes.snapshotMoveData", "needs snapshotVolumes: true (it moves snapshot data)")
    ]


def test_the_backup_defaults() -> None:
    """Velero's defaults: 30 days of TTL, the ``default`` location; no volume data, no PartiallyFailed for RPO."""
    spec = validate(BackupPolicy, a_backup_policy()).spec
    assert (spec.ttl, spec.storage_location, spec.volumes.fs_backup, spec.count_partially_failed) == (
        timedelta(days=30), "default", False, False,
    )  # fmt: skip


def test_a_drill_times_out_at_twice_its_rto_by_default() -> None:
    """The timeout is derived from the RTO unless given."""
    assert validate(DrillPolicy, a_drill_policy()).spec.effective_timeout == timedelta(hours=1)
    assert validate(DrillPolicy, a_drill_policy(timeout="45m")).spec.effective_timeout == timedelta(minutes=45)


def test_a_timeout_shorter_than_the_rto_is_refused() -> None:
    """A drill must be allowed to run as long as its objective."""
    ((where, message),) = refusals(DrillPolicy, a_drill_policy(timeout="20m"))
    assert (where, message) == (
        "spec.timeout",
        "timeout 20m is shorter than the rto 30m: a drill could be aborted before it can meet it",
    )


def test_drill_namespaces_live_at_least_a_day_by_default() -> None:
    """Without teardown.ttl, namespaces are deleted after the longer of a day and timeout plus keepFailedFor."""
    assert validate(DrillPolicy, a_drill_policy()).spec.namespace_ttl == timedelta(days=1)
    long_kept = a_drill_policy(teardown={"keepFailedFor": "2d"})
    assert validate(DrillPolicy, long_kept).spec.namespace_ttl == timedelta(days=2, hours=1)


def test_a_namespace_ttl_shorter_than_a_drill_is_refused() -> None:
    """teardown.ttl must not delete namespaces under a running or inspected drill."""
    ((where, _),) = refusals(DrillPolicy, a_drill_policy(teardown={"ttl": "1h", "keepFailedFor": "1h"}))
    assert where == "spec.teardown.ttl"


def test_check_names_are_unique() -> None:
    """Evidence is keyed by check name, so a name is used once per drill."""
    checks = [{"type": "workloadsReady", "name": "ready"}, {"type": "objectsPresent", "name": "ready"}]
    assert refusals(DrillPolicy, a_drill_policy(verify=checks)) == [
        ("spec.verify[1].name", '"ready" is already the name of verify[0]')
    ]


def test_an_exec_check_must_select_pods() -> None:
    """An empty selector would run the command in any pod."""
    check = {"type": "exec", "selector": {}, "command": ["true"]}
    assert refusals(DrillPolicy, a_drill_policy(verify=[check])) == [
        ("spec.verify[0].selector", "must select pods by label; an empty selector matches all")
    ]


def test_workloads_to_stop_are_kind_and_name() -> None:
    """scaleToZero takes kubectl-style kind/name, any case; DaemonSets cannot be scaled."""
    drill = validate(DrillPolicy, a_drill_policy(isolation={"scaleToZero": ["cronjob/newsletter"]}))
    (workload,) = drill.spec.isolation.scale_to_zero
    assert (workload.kind, str(workload)) == (WorkloadKind.CRON_JOB, "CronJob/newsletter")
    ((where, message),) = refusals(DrillPolicy, a_drill_policy(isolation={"scaleToZero": ["DaemonSet/agent"]}))
    assert (where, message[:27]) == ("spec.isolation.scaleToZero[0]", 'cannot stop a "DaemonSet"; ')


def test_checks_are_labelled_by_name_or_description() -> None:
    """Reports call a check by its name, or describe it."""
    anonymous = HttpCheck(type="http", service="storefront", port=80, path="/healthz")
    assert (anonymous.label, anonymous.model_copy(update={"name": "front"}).label) == (
        "http storefront:80/healthz",
        "front",
    )


@pytest.mark.parametrize(
    ("image", "pinned"),
    [("postgres:16.4", True), ("registry.example.com:5000/tools/check@sha256:" + "a" * 64, True),
     ("postgres", False), ("postgres:latest", False), ("registry.example.com:5000/check", False)],
)  # fmt: skip
def test_a_job_image_is_pinned_by_tag_or_digest(image: str, pinned: bool) -> None:
    """A registry port is not a tag."""
    assert JobCheck(type="job", image=image, command=("true",)).pinned is pinned


def test_models_and_their_maps_are_immutable() -> None:
    """Loaded policies cannot be changed, not even their label maps."""
    data = a_cluster()
    data["metadata"]["labels"] = {"env": "prod"}
    cluster = validate(Cluster, data)
    with pytest.raises(ValidationError, match="frozen"):
        cluster.spec.role = Role.PRIMARY  # type: ignore[misc]
    with pytest.raises(TypeError):
        cluster.metadata.labels["env"] = "dev"  # type: ignore[index]


def test_loaded_policies_hash_and_pickle() -> None:
    """Policies can be set members and travel as scheduler job arguments."""
    config = load(EXAMPLES)
    drill = config.drill_policies["shop-nightly"]
    assert pickle.loads(pickle.dumps(drill)) == drill
    assert len({drill, *config.drill_policies.values()}) == 2


@pytest.mark.parametrize("kind", ["clusters", "backup_policies", "drill_policies"])
def test_dumping_gives_back_the_yaml_form(kind: str) -> None:
    """model_dump(by_alias) is a valid document again: camelCase keys, durations and schedules as text."""
    for document in getattr(load(EXAMPLES), kind).values():
        dumped = document.model_dump(mode="json", by_alias=True)
        assert validate(type(document), dumped) == document


def test_python_code_may_use_snake_case() -> None:
    """Construction in Python takes attribute names; only files are held to YAML names."""
    spec = BackupPolicySpec(
        application="shop",
        cluster="primary-east",
        scope={"included_namespaces": ["shop"]},
        schedule="@hourly",
        objectives={"rpo": "2h"},
        count_partially_failed=True,
    )
    assert (spec.scope.included_namespaces, spec.count_partially_failed) == (("shop",), True)
