"""Checks across documents: references resolve, targets are safe, namespaces line up; and the warnings.

Errors fail loading; warnings come back in ``Config.warnings`` with file, line and path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .builders import a_backup_policy, a_cluster, a_drill_policy, load, messages, problems, write


def warnings_of(policies: Path) -> list[str]:
    """The warnings of a configuration that loads, as ``file:line: path: message``."""
    return [str(warning) for warning in load(policies).warnings]


def only(found: list[str]) -> str:
    """The single message."""
    assert len(found) == 1, found
    return str(found[0])


# Errors


def test_a_backup_policy_names_a_cluster_of_the_inventory(policies: Path) -> None:
    """The source cluster must be in the inventory."""
    write(policies, "shop.yaml", a_backup_policy(cluster="primary-west"))
    assert only(messages(policies)) == (
        'policies/shop.yaml:7: spec.cluster: cluster "primary-west" is not in the inventory '
        "(known: canary-east, dr-west, primary-east)"
    )


def test_a_drill_names_an_existing_backup_policy(policies: Path) -> None:
    """A drill of an undefined backup policy lists the defined ones."""
    write(policies, "shop.yaml", a_backup_policy(), a_drill_policy(backupPolicy="shoop"))
    assert only(messages(policies)).endswith(
        'document 2: spec.backupPolicy: BackupPolicy "shoop" is not defined (known: shop)'
    )


def test_a_drill_never_restores_into_the_backup_source(policies: Path) -> None:
    """Even where drills are allowed, the backup's own cluster is not a place to prove recovery."""
    write(policies, "shop.yaml", a_backup_policy(cluster="canary-east"), a_drill_policy(target="canary-east"))
    assert only(messages(policies)).endswith(
        'document 2: spec.target: cluster "canary-east" is the source of backup policy "shop"; a drill must '
        "restore into another cluster"
    )


def test_a_reference_to_an_invalid_document_is_not_reported_twice(policies: Path) -> None:
    """When the backup policy itself is invalid, the drill that names it adds no second error."""
    write(policies, "shop.yaml", a_backup_policy(ttl="soon"), a_drill_policy())
    assert [problem.path for problem in problems(policies)] == ["document 1: spec.ttl"]


def test_two_names_for_one_cluster_are_refused(policies: Path) -> None:
    """Two entries with one context could let a drill land on a primary; the later name is reported."""
    write(policies, "more.yaml", a_cluster("dr-west2", connection={"context": "primary-east"}))
    assert only(messages(policies)).startswith(
        'policies/more.yaml:10: spec.connection.context: cluster "primary-east" already uses context "primary-east"'
    )


def test_only_one_cluster_is_reached_in_cluster(policies: Path) -> None:
    """inCluster means the cluster drd runs in, so it can describe one entry at most."""
    write(policies, "more.yaml", *(a_cluster(name, connection={"inCluster": True}) for name in ("local-a", "local-b")))
    (problem,) = problems(policies)
    assert (problem.file, problem.path) == ("policies/more.yaml", "document 2: spec.connection.inCluster")


def test_drill_namespaces_fit_kubernetes_names(policies: Path) -> None:
    """Prefix plus source namespace must stay within 63 characters."""
    prefix = "drill-" + "x" * 24
    long_namespace = "n" * 40
    write(
        policies,
        "shop.yaml",
        a_backup_policy(scope={"includedNamespaces": [long_namespace]}),
        a_drill_policy(isolation={"namespacePrefix": prefix}),
    )
    assert only(messages(policies)).endswith(
        f'document 2: spec.isolation.namespacePrefix: drill namespace "{prefix}{long_namespace}" is longer than 63 '
        "characters; shorten the prefix"
    )


HTTP = {"type": "http", "service": "storefront", "port": 80}


@pytest.mark.parametrize(
    ("scope", "check", "message"),
    [
        pytest.param(
            {"includedNamespaces": ["shop"]},
            HTTP | {"namespace": "blog"},
            'spec.verify[0].namespace: namespace "blog" is not restored by backup policy "shop" (it restores: shop)',
            id="namespace not restored",
        ),
        pytest.param(
            {"includedNamespaces": ["shop", "shop-db"]},
            HTTP,
            'spec.verify[0]: needs a namespace: backup policy "shop" restores shop, shop-db',
            id="several namespaces restored",
        ),
        pytest.param(
            {"labelSelector": {"matchLabels": {"app": "shop"}}},
            HTTP,
            'spec.verify[0]: needs a namespace: backup policy "shop" chooses its namespaces by glob or label selector',
            id="namespaces chosen by selector",
        ),
    ],
)
def test_checks_find_their_namespace(
    policies: Path, scope: dict[str, Any], check: dict[str, Any], message: str
) -> None:
    """A check works in a namespace the backup restores, named unless the backup restores exactly one."""
    write(policies, "shop.yaml", a_backup_policy(scope=scope), a_drill_policy(verify=[check]))
    assert only(messages(policies)).endswith(f"document 2: {message}")


def test_a_check_may_omit_the_only_namespace(policies: Path) -> None:
    """With one restored namespace, checks need not repeat it."""
    write(policies, "shop.yaml", a_backup_policy(), a_drill_policy(verify=[HTTP]))
    assert warnings_of(policies) == []


# Warnings


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({}, id="nothing listed"),
        pytest.param({"includedNamespaces": ["shop"], "excludedNamespaces": ["shop"]}, id="everything excluded"),
        pytest.param({"includedNamespaces": ["*"], "excludedResources": ["*"]}, id="every resource excluded"),
    ],
)
def test_a_scope_that_selects_nothing_is_a_warning(policies: Path, scope: dict[str, Any]) -> None:
    """An empty backup loads, but is pointed out."""
    write(policies, "shop.yaml", a_backup_policy(scope=scope))
    assert only(warnings_of(policies)) == (
        'policies/shop.yaml:8: spec.scope: selects nothing: list includedNamespaces (["*"] for all), set a '
        "labelSelector or includeClusterResources: true"
    )


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({"labelSelector": {"matchLabels": {"app": "shop"}}}, id="selector across namespaces"),
        pytest.param({"includeClusterResources": True}, id="cluster resources only"),
        pytest.param({"includedNamespaces": ["*"]}, id="all namespaces"),
    ],
)
def test_a_scope_that_selects_something_is_quiet(policies: Path, scope: dict[str, Any]) -> None:
    """Label selectors, cluster resources and ``*`` each select something."""
    write(policies, "shop.yaml", a_backup_policy(scope=scope))
    assert warnings_of(policies) == []


def test_retention_beyond_the_ttl_is_a_warning(policies: Path) -> None:
    """Monthly backups that the TTL deletes after 30 days are not kept for months."""
    write(policies, "shop.yaml", a_backup_policy(retention={"monthly": 6}))
    assert only(warnings_of(policies)) == (
        "policies/shop.yaml:14: spec.retention: keeps backups for up to 186d but ttl 30d deletes them sooner; "
        "raise ttl or lower retention"
    )


def test_an_rpo_equal_to_the_interval_is_a_warning(policies: Path) -> None:
    """An RPO the schedule only just meets is breached by the time a backup takes."""
    write(policies, "shop.yaml", a_backup_policy(objectives={"rpo": "1h"}))
    assert only(warnings_of(policies)).startswith("policies/shop.yaml:13: spec.objectives.rpo: rpo 1h leaves little")


def test_a_drill_in_the_source_region_is_a_warning(policies: Path) -> None:
    """Canary-east shares us-east-1 with the primary: allowed, but it proves no regional recovery."""
    write(policies, "shop.yaml", a_backup_policy(), a_drill_policy(target="canary-east"))
    assert only(warnings_of(policies)).endswith(
        'document 2: spec.target: cluster "canary-east" is in us-east-1 like the source "primary-east": the drill '
        "does not prove recovery from a regional outage"
    )


def test_snapshots_that_cannot_leave_the_region_are_a_warning(policies: Path) -> None:
    """Volume snapshots alone cannot be restored in another region."""
    write(policies, "shop.yaml", a_backup_policy(volumes={"snapshotVolumes": True}), a_drill_policy())
    assert "keeps volume data only as snapshots in us-east-1" in only(warnings_of(policies))


@pytest.mark.parametrize(
    ("spec", "path", "start"),
    [
        pytest.param({"verify": []}, "spec.verify", "no checks", id="no checks"),
        pytest.param(
            {"isolation": {"denyNetwork": False}}, "spec.isolation.denyNetwork", "restored workloads can reach",
            id="network open",
        ),
        pytest.param(
            {"isolation": {"limitRange": None}}, "spec.isolation.limitRange", "a resourceQuota without a limitRange",
            id="quota without limit range",
        ),
        pytest.param(
            {"verify": [{"type": "job", "image": "postgres", "command": ["true"]}]},
            "spec.verify[0].image",
            'image "postgres" is not pinned',
            id="unpinned image",
        ),
        pytest.param(
            {"verify": [{"type": "job", "image": "postgres:16", "command": ["true"], "env": {"PGPASSWORD": "x"}}]},
            "spec.verify[0].env.PGPASSWORD",
            "looks like a secret",
            id="secret in env",
        ),
    ],
)  # fmt: skip
def test_drill_warnings(policies: Path, spec: dict[str, Any], path: str, start: str) -> None:
    """Drills that prove less than they seem, or risk more than they should, load with a warning."""
    write(policies, "shop.yaml", a_backup_policy(), a_drill_policy(**spec))
    (warning,) = load(policies).warnings
    assert (warning.path, warning.message[: len(start)]) == (f"document 2: {path}", start)
