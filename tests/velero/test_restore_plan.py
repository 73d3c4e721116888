"""Restore planning (velero.md §1.2, §2.2, §5): filters, mapping, priorities and the built-in item actions."""

from __future__ import annotations

import pytest

from drd.velero.archive import ArchivedObject
from drd.velero.restore_plan import plan_restore
from drd.velero.selection import NamespaceFilter, ResourceFilter, matches_label_selector


def archived(group_resource: str, name: str, namespace: str | None = "shop", **fields) -> ArchivedObject:
    kind = {"deployments.apps": "Deployment", "services": "Service", "namespaces": "Namespace"}.get(
        group_resource, group_resource.title()
    )
    obj = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "uid": "u-1",
            "resourceVersion": "42",
            "creationTimestamp": "2026-06-01T00:00:00Z",
            "ownerReferences": [{"kind": "ReplicaSet", "name": "x", "uid": "o-1"}],
            **({"namespace": namespace} if namespace else {}),
        },
        "status": {"phase": "Running"},
        **fields,
    }
    return ArchivedObject(group_resource, namespace, name, obj)


def plan(items, **spec):
    return plan_restore(items, spec, backup_name="b1", restore_name="r1")


def test_server_assigned_metadata_and_status_are_stripped():
    """§5.3: uid, resourceVersion, creationTimestamp, ownerReferences and status do not survive a restore."""
    (item,) = plan([archived("configmaps", "c")])
    assert set(item.obj["metadata"]) == {"name", "namespace", "labels"}
    assert "status" not in item.obj


def test_restored_objects_carry_backup_and_restore_labels():
    """§1.2: every restored object is labelled with the backup and restore names."""
    (item,) = plan([archived("configmaps", "c")])
    assert item.obj["metadata"]["labels"] == {"velero.io/backup-name": "b1", "velero.io/restore-name": "r1"}


def test_namespace_mapping_renames_namespaces_and_moves_objects():
    """§1.2: namespaceMapping renames the Namespace object and rewrites each item's namespace."""
    items = plan(
        [archived("namespaces", "shop", None), archived("configmaps", "c")], namespaceMapping={"shop": "drill-shop"}
    )
    assert [(i.group_resource, i.namespace, i.name) for i in items] == [
        ("namespaces", None, "drill-shop"),
        ("configmaps", "drill-shop", "c"),
    ]


def test_items_come_in_velero_priority_order():
    """§2.2: namespaces, then secrets/configmaps, pods and services, then the rest alphabetically."""
    items = plan(
        [
            archived("deployments.apps", "d"),
            archived("services", "s"),
            archived("configmaps", "c"),
            archived("namespaces", "shop", None),
            archived("cronjobs.batch", "j"),
        ]
    )
    assert [i.group_resource for i in items] == [
        "namespaces",
        "configmaps",
        "services",
        "cronjobs.batch",
        "deployments.apps",
    ]


def test_non_restorable_resources_are_never_planned():
    """§1.2: nodes and events are excluded whatever the spec says."""
    assert plan([archived("nodes", "n", None), archived("events", "e")]) == []


def test_cluster_scoped_items_only_with_all_namespaces_by_default():
    """§1.2: includeClusterResources nil restores cluster-scoped items only when all namespaces are included."""
    cluster_role = archived("clusterroles.rbac.authorization.k8s.io", "reader", None)
    assert plan([cluster_role], includedNamespaces=["shop"]) == []
    assert len(plan([cluster_role])) == 1
    assert len(plan([cluster_role], includedNamespaces=["shop"], includeClusterResources=True)) == 1


def test_service_cluster_ip_and_node_ports_are_cleared():
    """§5.4: Services lose clusterIP and nodePorts unless headless or preserveNodePorts."""
    service = archived("services", "s", spec={"clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 30080}]})
    headless = archived("services", "h", spec={"clusterIP": "None", "ports": []})
    planned = {i.name: i.obj["spec"] for i in plan([service, headless])}
    assert planned["s"] == {"ports": [{"port": 80}]}
    assert planned["h"]["clusterIP"] == "None"


def test_pvc_binding_is_removed_for_dynamic_provisioning():
    """§5.4: PVCs lose volumeName and bind annotations."""
    claim = archived(
        "persistentvolumeclaims",
        "data",
        spec={"volumeName": "pv-1", "resources": {}},
    )
    claim.obj["metadata"]["annotations"] = {"pv.kubernetes.io/bind-completed": "yes", "team": "db"}
    (item,) = plan([claim])
    assert "volumeName" not in item.obj["spec"]
    assert item.obj["metadata"]["annotations"] == {"team": "db"}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (None, {}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "1"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Sideways"}]}, {"a": "1"}, False),
    ],
)
def test_label_selectors_follow_metav1_semantics(selector, labels, expected):
    """matchLabels and matchExpressions combine with AND; an unknown operator matches nothing."""
    assert matches_label_selector(selector, labels) is expected


def test_namespace_filters_accept_globs_and_exclusions():
    """v1.18 globs in included/excluded namespaces; empty include means every namespace."""
    assert NamespaceFilter(["shop-*"], ["shop-tmp"]).matches("shop-eu")
    assert not NamespaceFilter(["shop-*"], ["shop-tmp"]).matches("shop-tmp")
    assert NamespaceFilter([], []).all_namespaces


def test_resource_filters_match_plural_group_or_kind():
    """Resource names may be given as plural, plural.group or kind."""
    assert ResourceFilter(["deployments.apps"], []).matches(plural="deployments", group="apps", kind="Deployment")
    assert ResourceFilter(["deployment"], []).matches(plural="deployments", group="apps", kind="Deployment")
    assert not ResourceFilter([], ["deployments"]).matches(plural="deployments", group="apps", kind="Deployment")
