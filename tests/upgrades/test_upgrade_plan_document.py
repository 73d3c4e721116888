"""The UpgradePlan document: what loading accepts and the located errors it gives.

Aspects covered: a valid plan loads; the target must be a Kubernetes version (minor skipping needs the
clusters' versions and is left to pre-flight); the first stage holds canaries only; named clusters exist;
each cluster is in one stage; metric thresholds cannot overlap; canaryDrill names a DrillPolicy; the example in
policies/ is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drd.policy.models.upgrade import UpgradePlan, resolve_stages
from tests.policy.builders import API, a_backup_policy, a_drill_policy, load, messages, write


@pytest.fixture
def policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``policies/`` holding the inventory (primary-east, dr-west, canary-east), a backup and a drill policy."""
    from tests.policy.builders import an_inventory

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "policies", "clusters.yaml", *an_inventory())
    write(tmp_path / "policies", "shop.yaml", a_backup_policy(), a_drill_policy())
    return Path("policies")


def a_plan(**spec: Any) -> dict[str, Any]:
    """canary-east, then dr-west, then primary-east, to v1.32.0."""
    body = {
        "targetVersion": "v1.32.0",
        "stages": [
            {"name": "canary", "clusters": {"role": "canary"}, "soak": "1h", "gates": [{"type": "health"}]},
            {"name": "dr", "clusters": {"names": ["dr-west"]}},
            {"name": "production", "clusters": {"names": ["primary-east"]}},
        ],
    } | spec
    return {"apiVersion": API, "kind": "UpgradePlan", "metadata": {"name": "to-1-32"}, "spec": body}


def stages(*stage_list: dict[str, Any]) -> list[dict[str, Any]]:
    return list(stage_list)


def test_a_valid_plan_loads_with_its_stages_in_order(policies: Path) -> None:
    """Stages resolve to their inventory clusters, canary first."""
    write(policies, "upgrade.yaml", a_plan(canaryDrill="shop-nightly"))
    config = load(policies)
    plan = config.of_kind(UpgradePlan)["to-1-32"]
    resolved = [[c.name for c in stage.clusters] for stage in resolve_stages(plan, config.clusters)]
    assert resolved == [["canary-east"], ["dr-west"], ["primary-east"]]
    assert config.warnings == ()


@pytest.mark.parametrize("version", ["1.32.0", "v1.32", "v2.0.0", "v1.32.0-eks-1", "latest"])
def test_the_target_must_be_a_kubernetes_version(policies: Path, version: str) -> None:
    """A target that is not vMAJOR.MINOR.PATCH of Kubernetes 1 is refused at load, naming the accepted form."""
    write(policies, "upgrade.yaml", a_plan(targetVersion=version))
    (message,) = messages(policies)
    assert "spec.targetVersion" in message
    assert "a Kubernetes release such as v1.32.0" in message


def test_the_first_stage_holds_only_canaries(policies: Path) -> None:
    """A non-canary cluster in the first stage is an error that says why and what to do."""
    plan = a_plan(
        stages=stages(
            {"name": "first", "clusters": {"names": ["canary-east", "dr-west"]}, "soak": "1h"},
            {"name": "rest", "clusters": {"names": ["primary-east"]}},
        )
    )
    write(policies, "upgrade.yaml", plan)
    (message,) = messages(policies)
    assert message.startswith("policies/upgrade.yaml:")
    assert (
        'spec.stages[0].clusters: the first stage is the canary stage, but cluster "dr-west" has role "dr"' in message
    )


def test_named_clusters_must_be_in_the_inventory(policies: Path) -> None:
    """An unknown cluster name is reported at its position, with the known names."""
    plan = a_plan(
        stages=stages(
            {"name": "canary", "clusters": {"role": "canary"}, "soak": "1h"},
            {"name": "rest", "clusters": {"names": ["dr-west", "primary-east", "dr-east"]}},
        )
    )
    write(policies, "upgrade.yaml", plan)
    (message,) = messages(policies)
    assert 'spec.stages[1].clusters.names[2]: cluster "dr-east" is not in the inventory' in message


def test_each_cluster_is_in_exactly_one_stage(policies: Path) -> None:
    """A cluster selected by two stages is an error naming the first."""
    plan = a_plan(
        stages=stages(
            {"name": "canary", "clusters": {"role": "canary"}, "soak": "1h"},
            {"name": "dr", "clusters": {"names": ["dr-west"]}},
            {"name": "rest", "clusters": {"names": ["dr-west", "primary-east"]}},
        )
    )
    write(policies, "upgrade.yaml", plan)
    (message,) = messages(policies)
    assert 'spec.stages[2].clusters: cluster "dr-west" is already upgraded by stages[1] ("dr")' in message


def test_a_cluster_left_out_is_a_warning(policies: Path) -> None:
    """A plan may leave a cluster alone, but says so."""
    plan = a_plan(
        stages=stages(
            {"name": "canary", "clusters": {"role": "canary"}, "soak": "1h"},
            {"name": "dr", "clusters": {"names": ["dr-west"]}},
        )
    )
    write(policies, "upgrade.yaml", plan)
    (warning,) = load(policies).warnings
    assert 'cluster "primary-east" is in no stage' in str(warning)


def test_metric_thresholds_may_not_overlap(policies: Path) -> None:
    """A value that would both pass and fail a metric gate is refused at failIf."""
    gate = {"type": "metric", "query": "up", "passIf": "<= 0.05", "failIf": "> 0.01"}
    plan = a_plan(
        stages=stages(
            {"name": "canary", "clusters": {"role": "canary"}, "soak": "1h", "gates": [gate]},
            {"name": "rest", "clusters": {"role": "dr"}},
            {"name": "prod", "clusters": {"role": "primary"}},
        )
    )
    write(policies, "upgrade.yaml", plan)
    (message,) = messages(policies)
    assert 'spec.stages[0].gates[0].failIf: passIf "<= 0.05" and failIf "> 0.01" overlap' in message


def test_the_canary_drill_must_exist(policies: Path) -> None:
    """canaryDrill names a DrillPolicy of the configuration."""
    write(policies, "upgrade.yaml", a_plan(canaryDrill="nightly"))
    (message,) = messages(policies)
    assert 'spec.canaryDrill: DrillPolicy "nightly" does not exist (known: shop-nightly)' in message


def test_the_example_plan_is_accepted() -> None:
    """policies/upgrade-1-32.yaml loads with the repository's inventory and puts canary-east first."""
    root = Path(__file__).parents[2] / "policies"
    config = load(root)
    plan = config.of_kind(UpgradePlan)["upgrade-1-32"]
    first = resolve_stages(plan, config.clusters)[0]
    assert tuple(c.name for c in first.clusters) == ("canary-east",)
