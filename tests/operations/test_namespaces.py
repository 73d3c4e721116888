"""Isolated, owned namespaces against an emulated API server.

Aspects: what an isolated namespace consists of (labels, deny-all
NetworkPolicy, quota, limits); idempotence for the owner, including repair
of a loosened NetworkPolicy; refusal of a namespace that exists unowned or
owned by another run, and of one being deleted; deletion that waits until the
namespace is gone, times out while a finalizer holds it, and leaves
namespaces it does not own alone.
"""

from __future__ import annotations

import threading
import time

import pytest

from drd.clients.kube_resources import CONFIGMAPS, LIMIT_RANGES, NAMESPACES, NETWORK_POLICIES, RESOURCE_QUOTAS
from drd.errors import PermanentError, TemporaryError
from drd.operations import namespaces, waiting

RUN = "drd.dev/drill-run"
QUOTA = {"hard": {"pods": "20", "requests.cpu": "4"}}
LIMITS = {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}


def isolated(kube, name: str = "drill-shop", run: str = "run-1", **options) -> dict:
    return namespaces.create_isolated_namespace(
        kube, name, labels={RUN: run, "drd.dev/policy": "shop"}, owner_label=RUN, **options
    )


def held_by_finalizer(kube, namespace: str) -> None:
    """A ConfigMap whose finalizer keeps the namespace Terminating until it is released."""
    body = {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}, "data": {}}
    kube.create(CONFIGMAPS, body, namespace=namespace)


def release(kube, namespace: str) -> None:
    kube.merge_patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, namespace=namespace)


def test_an_isolated_namespace_is_labelled_cut_off_and_limited(bare):
    """The namespace carries the owner and managed-by labels; a deny-all policy, quota and limits are inside."""
    created = isolated(bare, annotations={"drd.dev/expires": "2026-06-02T00:00:00Z"}, quota=QUOTA, limit_range=LIMITS)
    assert created["metadata"]["labels"][RUN] == "run-1"
    assert created["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "drd"
    assert created["metadata"]["annotations"] == {"drd.dev/expires": "2026-06-02T00:00:00Z"}
    policy = bare.get(NETWORK_POLICIES, namespaces.DENY_ALL_POLICY, namespace="drill-shop")
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert bare.get(RESOURCE_QUOTAS, namespaces.QUOTA_NAME, namespace="drill-shop")["spec"]["hard"]["pods"] == "20"
    assert bare.get(LIMIT_RANGES, namespaces.LIMIT_RANGE_NAME, namespace="drill-shop")["spec"] == LIMITS


def test_without_network_isolation_no_policy_is_made(bare):
    """deny_network=False leaves the namespace without a NetworkPolicy."""
    isolated(bare, deny_network=False)
    assert bare.list_objects(NETWORK_POLICIES, namespace="drill-shop").items == []


def test_creating_it_again_for_the_same_run_is_idempotent_and_repairs_isolation(bare):
    """A second call by the owner returns the namespace and puts back the deny-all policy someone loosened."""
    first = isolated(bare)
    rule = {"spec": {"ingress": [{"from": [{"podSelector": {}}]}]}}
    bare.merge_patch(NETWORK_POLICIES, namespaces.DENY_ALL_POLICY, rule, namespace="drill-shop")
    again = isolated(bare)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    policy = bare.get(NETWORK_POLICIES, namespaces.DENY_ALL_POLICY, namespace="drill-shop")
    assert "ingress" not in policy["spec"]


def test_an_existing_namespace_without_the_owner_label_is_refused(bare):
    """A namespace drd did not create for this run raises NamespaceExists, a PermanentError naming the label."""
    bare.create(NAMESPACES, {"metadata": {"name": "drill-shop", "labels": {"team": "shop"}}})
    with pytest.raises(namespaces.NamespaceExists) as raised:
        isolated(bare)
    assert isinstance(raised.value, PermanentError)
    assert f'namespace "drill-shop" already exists and was not created by drd for this run (it has no {RUN} label' in (
        str(raised.value)
    )
    assert bare.list_objects(NETWORK_POLICIES, namespace="drill-shop").items == []


def test_a_namespace_owned_by_another_run_is_refused(bare):
    """The owner label must carry this run's value: another run's namespace is refused, naming both values."""
    isolated(bare, run="run-1")
    with pytest.raises(namespaces.NamespaceExists, match=f'it has {RUN}="run-1", expected "run-2"'):
        isolated(bare, run="run-2")


def test_a_namespace_being_deleted_is_a_temporary_refusal(bare):
    """The owner's namespace still Terminating raises NamespaceTerminating, a TemporaryError."""
    isolated(bare)
    held_by_finalizer(bare, "drill-shop")
    bare.delete(NAMESPACES, "drill-shop")
    with pytest.raises(namespaces.NamespaceTerminating) as raised:
        isolated(bare)
    assert isinstance(raised.value, TemporaryError)


def test_the_owner_label_must_be_among_the_labels(bare):
    """Naming an owner label that is not set is a usage error, and nothing is created."""
    with pytest.raises(PermanentError, match="owner label"):
        namespaces.create_isolated_namespace(bare, "drill-x", labels={"a": "b"}, owner_label=RUN)
    assert bare.find(NAMESPACES, "drill-x") is None


def test_isolating_an_existing_namespace_adds_the_deny_all_policy(bare):
    """isolate_namespace puts the deny-all NetworkPolicy into a namespace made by someone else, idempotently."""
    bare.create(NAMESPACES, {"metadata": {"name": "restored"}})
    namespaces.isolate_namespace(bare, "restored")
    namespaces.isolate_namespace(bare, "restored")
    (policy,) = bare.list_objects(NETWORK_POLICIES, namespace="restored").items
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_deleting_waits_until_the_namespace_is_gone(bare):
    """With a finalizer released after 0.3 s, delete_namespace returns only once the namespace no longer exists."""
    isolated(bare)
    held_by_finalizer(bare, "drill-shop")
    threading.Timer(0.3, release, (bare, "drill-shop")).start()
    started = time.monotonic()
    assert namespaces.delete_namespace(bare, "drill-shop", timeout_seconds=10) is True
    assert time.monotonic() - started >= 0.25
    assert bare.find(NAMESPACES, "drill-shop") is None


def test_a_namespace_held_terminating_times_out_naming_it(bare):
    """A finalizer that never goes makes delete_namespace raise WaitTimedOut saying the namespace is being deleted."""
    isolated(bare)
    held_by_finalizer(bare, "drill-shop")
    with pytest.raises(waiting.WaitTimedOut) as raised:
        namespaces.delete_namespace(bare, "drill-shop", timeout_seconds=0.3)
    assert 'namespace "drill-shop" to be deleted; last seen: being deleted' in str(raised.value)


def test_deleting_a_missing_namespace_is_false(bare):
    """A namespace that does not exist is not an error: delete_namespace answers False."""
    assert namespaces.delete_namespace(bare, "never-was") is False


def test_deleting_with_an_owner_leaves_other_namespaces_alone(bare):
    """owned_by refuses a namespace without the mark (NamespaceNotOwned) and does not delete it."""
    bare.create(NAMESPACES, {"metadata": {"name": "production"}})
    with pytest.raises(namespaces.NamespaceNotOwned):
        namespaces.delete_namespace(bare, "production", owned_by=(RUN, "run-1"))
    assert bare.find(NAMESPACES, "production") is not None
    isolated(bare)
    assert namespaces.delete_namespace(bare, "drill-shop", owned_by=(RUN, "run-1")) is True


def test_ownership_is_read_from_a_label_or_an_annotation():
    """namespace_owned_by accepts the mark as a label or an annotation, and only with the exact value."""
    labelled = {"metadata": {"labels": {RUN: "run-1"}}}
    annotated = {"metadata": {"annotations": {RUN: "run-1"}}}
    assert namespaces.namespace_owned_by(labelled, RUN, "run-1")
    assert namespaces.namespace_owned_by(annotated, RUN, "run-1")
    assert not namespaces.namespace_owned_by(labelled, RUN, "run-2")
    assert not namespaces.namespace_owned_by({"metadata": {}}, RUN, "run-1")
