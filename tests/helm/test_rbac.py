"""Least-privilege RBAC: the exact rules drd's code needs, no wildcards, no cluster-admin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm.conftest import NAMESPACE, Renderer, of_kind, one

RBAC_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


def _rules(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) → verbs, over every rule of a role."""
    table: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                table.setdefault((group, resource), set()).update(rule["verbs"])
    return table


def _all_docs(render: Renderer) -> list[list[dict[str, Any]]]:
    return [render(), render.full(), render("--set", "rbac.clusterWide.enabled=false")]


def test_no_wildcards_anywhere(render: Renderer) -> None:
    """No rule of any Role or ClusterRole has `*` in its apiGroups, resources or verbs."""
    for docs in _all_docs(render):
        for role in [d for d in docs if d["kind"] in RBAC_KINDS]:
            for rule in role["rules"]:
                for key in ("apiGroups", "resources", "verbs", "resourceNames"):
                    assert not any("*" in v for v in rule.get(key, [])), (role["metadata"]["name"], rule)


def test_nothing_is_bound_to_builtin_roles(render: Renderer) -> None:
    """Every binding refers to a role the chart defines: never cluster-admin, admin, edit or view."""
    for docs in _all_docs(render):
        defined = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in RBAC_KINDS}
        for binding in [d for d in docs if d["kind"] in BINDING_KINDS]:
            ref = binding["roleRef"]
            assert ref["name"] not in {"cluster-admin", "admin", "edit", "view"}
            assert (ref["kind"], ref["name"]) in defined, ref
            assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "drd", "namespace": NAMESPACE}]


def test_own_namespace_role_is_leases_and_events(render: Renderer) -> None:
    """In its own namespace drd manages the leader and runbook-lock Leases and writes Events."""
    role = one(render(), "Role", "drd")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert _rules(role) == {
        ("coordination.k8s.io", "leases"): {"get", "list", "watch", "create", "update", "delete"},
        ("", "events"): {"create", "patch"},
    }


def test_velero_role_has_only_the_verbs_drd_uses(render: Renderer) -> None:
    """In the Velero namespace: each Velero kind with exactly the verbs drd's code calls, and Events about them."""
    role = one(render(), "Role", "drd-velero")
    assert role["metadata"]["namespace"] == "velero"
    assert _rules(role) == {
        ("velero.io", "backups"): {"get", "list", "watch", "create"},
        ("velero.io", "restores"): {"get", "list", "watch", "create", "delete"},
        ("velero.io", "schedules"): {"get", "create", "patch"},
        ("velero.io", "deletebackuprequests"): {"list", "create"},
        ("velero.io", "downloadrequests"): {"get", "list", "watch", "create", "delete"},
        ("velero.io", "backupstoragelocations"): {"get", "list", "patch"},
        ("", "events"): {"create", "patch"},
    }


def test_velero_namespace_follows_values(render: Renderer) -> None:
    """The Velero Role and its binding go to velero.namespace."""
    docs = render("--set", "velero.namespace=backup-system")
    assert one(docs, "Role", "drd-velero")["metadata"]["namespace"] == "backup-system"
    assert one(docs, "RoleBinding", "drd-velero")["metadata"]["namespace"] == "backup-system"


def test_cluster_role_for_drills_is_exact(render: Renderer) -> None:
    """Drills and restores in this cluster get exactly the namespace, isolation, workload, pod and job rights."""
    role = one(render(), "ClusterRole", f"{NAMESPACE}-drd-drills")
    assert _rules(role) == {
        ("", "namespaces"): {"create", "delete", "get", "list", "watch", "patch"},
        ("", "resourcequotas"): {"create", "get", "patch"},
        ("", "limitranges"): {"create", "get", "patch"},
        ("networking.k8s.io", "networkpolicies"): {"create", "get", "patch"},
        ("apps", "deployments"): {"get", "list", "watch", "patch"},
        ("apps", "statefulsets"): {"get", "list", "watch", "patch"},
        ("apps", "daemonsets"): {"get", "list", "watch", "patch"},
        ("apps", "deployments/scale"): {"get", "patch"},
        ("apps", "statefulsets/scale"): {"get", "patch"},
        ("batch", "cronjobs"): {"get", "list", "watch", "patch"},
        ("batch", "jobs"): {"create", "get", "list", "watch", "delete"},
        ("", "pods"): {"get", "list", "watch"},
        ("", "pods/log"): {"get"},
        ("", "pods/exec"): {"create"},
        ("", "services/proxy"): {"get"},
        ("", "events"): {"list"},
    }


def test_secrets_are_never_readable_by_default(render: Renderer) -> None:
    """No default rule grants any access to Secrets; listing them is an explicit opt-in."""
    for role in [d for d in render() if d["kind"] in RBAC_KINDS]:
        assert not any(key == ("", "secrets") for key in _rules(role)), role["metadata"]["name"]
    drills = one(render("--set", "rbac.clusterWide.readSecrets=true"), "ClusterRole", f"{NAMESPACE}-drd-drills")
    assert _rules(drills)[("", "secrets")] == {"list"}


def test_cluster_wide_part_can_be_turned_off(render: Renderer) -> None:
    """With rbac.clusterWide.enabled=false the only cluster-scoped right left is reading drd's own namespace."""
    docs = render("--set", "rbac.clusterWide.enabled=false")
    (cluster_role,) = of_kind(docs, "ClusterRole")
    assert cluster_role["rules"] == [
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": [NAMESPACE], "verbs": ["get"]}
    ]
    assert len(of_kind(docs, "ClusterRoleBinding")) == 1


def test_rbac_can_be_left_to_the_operator(render: Renderer) -> None:
    """rbac.create=false renders no Role, ClusterRole or binding at all."""
    docs = render("--set", "rbac.create=false")
    assert not [d for d in docs if d["kind"] in RBAC_KINDS + BINDING_KINDS]


@pytest.mark.parametrize(
    "rule",
    [
        "rbac.extraClusterRules[0].apiGroups[0]=*,rbac.extraClusterRules[0].resources[0]=pods,"
        "rbac.extraClusterRules[0].verbs[0]=get",
        "rbac.extraClusterRules[0].apiGroups[0]=,rbac.extraClusterRules[0].resources[0]=*,"
        "rbac.extraClusterRules[0].verbs[0]=get",
        "rbac.extraClusterRules[0].apiGroups[0]=,rbac.extraClusterRules[0].resources[0]=pods,"
        "rbac.extraClusterRules[0].verbs[0]=*",
    ],
    ids=["apiGroups", "resources", "verbs"],
)
def test_extra_rules_refuse_wildcards(render: Renderer, rule: str) -> None:
    """The values schema refuses a `*` in extra ClusterRole rules."""
    assert "extraClusterRules" in render.error("--set", rule)


def test_extra_rules_are_added(render: Renderer) -> None:
    """Explicit extra rules (for runbooks touching other kinds) are appended to the drills ClusterRole."""
    docs = render(
        "--set", "rbac.extraClusterRules[0].apiGroups[0]=,rbac.extraClusterRules[0].resources[0]=configmaps,"
        "rbac.extraClusterRules[0].verbs[0]=get"
    )  # fmt: skip
    assert _rules(one(docs, "ClusterRole", f"{NAMESPACE}-drd-drills"))[("", "configmaps")] == {"get"}


def test_upgrades_may_drain_nodes_through_evictions_only_when_enabled(render: Renderer) -> None:
    """rbac.upgrades.enabled adds cordon (patch nodes), evictions, budgets and pod listing; nothing by default."""
    name = f"{NAMESPACE}-drd-drills"
    enabled = _rules(one(render.full(), "ClusterRole", name))
    assert enabled[("", "nodes")] == {"get", "list", "watch", "patch"}
    assert enabled[("", "pods/eviction")] == {"create"}
    assert enabled[("policy", "poddisruptionbudgets")] == {"list"}
    assert ("", "pods/eviction") not in _rules(one(render(), "ClusterRole", name))


def test_rotation_targets_get_a_role_limited_to_their_secrets_and_consumers(render: Renderer) -> None:
    """A rotation target namespace: get/patch on the named Secrets and workloads only, create Secrets, no list."""
    role = one(render.full(), "Role", "drd-rotation")
    assert role["metadata"]["namespace"] == "shop"
    named = {(rule["resources"][0], tuple(rule["verbs"])): rule.get("resourceNames") for rule in role["rules"]}
    assert named[("secrets", ("get", "patch"))] == ["payments-token"]
    assert named[("deployments", ("get", "patch"))] == ["storefront"]
    assert ("secrets", ("list",)) not in named
    assert not of_kind(render(), "RoleBinding") or all(
        b["metadata"]["name"] != "drd-rotation" for b in of_kind(render(), "RoleBinding")
    )
