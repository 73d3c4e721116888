"""The ``sandbox`` upgrade provider over the sandbox's emulated clusters, through HTTP only.

Aspects: the sandbox's inventory says ``provider: sandbox`` and the registry builds this provider from it;
the control plane moves one minor through the platform endpoint (a client of its own sees it), and a hop
skipping a minor, or a downgrade, is refused; node groups are listed with their kubelet versions; a group
rolls one node at a time (never two cordoned at once), ending on the new kubelet version with the workload
Ready; a group newer than the control plane is refused; a budget allowing no disruption halts the roll with
DrainBlocked naming it, the node left on the old version; ``wait`` accepts an id of another instance, finishes
an interrupted roll and refuses ids it did not make; no add-ons, no readiness findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drd.clients.kube import KubeClient
from drd.clients.kube_resources import DEPLOYMENTS, NODES
from drd.operations.nodes import PDBS, DrainBlocked
from drd.operations.workloads import wait_until_ready
from drd.policy.loader import load_config
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.sandbox.kube.events import StoreEvent
from drd.upgrades.providers import NodeGroup, Provider, ProviderError
from drd.upgrades.providers.registry import DrainPolicy, provider_for
from drd.upgrades.providers.sandbox import SandboxProvider

CLUSTER = "canary-east"
NS = "default"


@pytest.fixture
def kube(sandbox: Sandbox) -> Iterator[KubeClient]:
    """A client of its own to the canary: the provider needs nothing but HTTP."""
    client = KubeClient.from_api_url(sandbox.cluster(CLUSTER).url, cluster=CLUSTER)
    yield client
    client.close()


def make_provider(kube: KubeClient, *, drain_timeout: float = 10.0) -> SandboxProvider:
    return SandboxProvider(
        CLUSTER, kube, drain=DrainPolicy(timeout_seconds=drain_timeout), ready_timeout_seconds=10, retry_seconds=0.05
    )


@pytest.fixture
def provider(kube: KubeClient) -> SandboxProvider:
    return make_provider(kube)


def deploy_with_budget(kube: KubeClient, *, replicas: int, **budget: Any) -> None:
    """Deployment ``web`` (its pods spread over the nodes), Ready, and PDB ``web`` over it."""
    labels = {"app": "web"}
    spec = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "web:1"}]}},
    }
    kube.create(DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": spec}, namespace=NS)
    wait_until_ready(kube, NS, timeout_seconds=10)
    pdb = {"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": labels}, **budget}}
    kube.create(PDBS, pdb, namespace=NS)


def kubelets(kube: KubeClient) -> set[str]:
    return {n["status"]["nodeInfo"]["kubeletVersion"] for n in kube.list_objects(NODES).items}


def test_the_sandbox_provider_is_a_provider(provider: SandboxProvider) -> None:
    """It satisfies the Provider protocol and reads the control plane's version."""
    as_protocol: Provider = provider
    assert as_protocol.control_plane_version(CLUSTER) == "v1.31.4"


def test_the_registry_builds_it_from_the_sandbox_inventory(sandbox: Sandbox, kube: KubeClient, tmp_path: Path) -> None:
    """The sandbox's clusters.yaml says ``provider: sandbox``, and provider_for builds a SandboxProvider from it."""
    paths = write_files(sandbox, tmp_path / "sb")
    cluster = load_config([paths["config"]]).clusters[CLUSTER]
    assert str(cluster.spec.provider) == "sandbox"
    assert isinstance(provider_for(cluster, kube, drain=DrainPolicy()), SandboxProvider)


def test_the_control_plane_moves_one_minor(provider: SandboxProvider, sandbox: Sandbox) -> None:
    """The platform endpoint moves the canary to v1.32.0; /version reports it to any client; others stay."""
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    assert provider.control_plane_version(CLUSTER) == "v1.32.0"
    assert sandbox.cluster(CLUSTER).kube.version()["minor"] == "32"
    assert sandbox.cluster("primary-east").kube.version()["gitVersion"] == "v1.31.4"


@pytest.mark.parametrize(("target", "why"), [("v1.33.0", "upgrade to 1.32 first"), ("v1.30.9", "downgraded")])
def test_skipping_a_minor_or_going_down_is_refused(provider: SandboxProvider, target: str, why: str) -> None:
    """A hop past the next minor, or below the current version, is a ProviderError and changes nothing."""
    with pytest.raises(ProviderError, match=why):
        provider.upgrade_control_plane(CLUSTER, target)
    assert provider.control_plane_version(CLUSTER) == "v1.31.4"


def test_another_cluster_is_refused(provider: SandboxProvider) -> None:
    """A provider built for one cluster refuses to act on another."""
    with pytest.raises(ProviderError, match="cannot upgrade cluster primary-east"):
        provider.upgrade_control_plane("primary-east", "v1.32.0")


def test_node_groups_list_nodes_and_kubelet_versions(provider: SandboxProvider) -> None:
    """Nodes without a provider label form the group ``default``, with their kubelet versions."""
    [group] = provider.node_groups(CLUSTER)
    assert group == NodeGroup("default", tuple(f"{CLUSTER}-node-{i}" for i in range(3)), ("v1.31.4",))


def test_a_node_group_rolls_one_node_at_a_time(sandbox: Sandbox, provider: SandboxProvider, kube: KubeClient) -> None:
    """Never two nodes cordoned at once; every kubelet ends on the target, uncordoned, the workload Ready."""
    deploy_with_budget(kube, replicas=3, maxUnavailable=1)
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    cordoned: set[str] = set()
    most = 0

    def track(event: StoreEvent) -> None:  # an observer only: the provider itself touches nothing in-process
        nonlocal most
        name = event.object["metadata"]["name"]
        if (event.object.get("spec") or {}).get("unschedulable"):
            cordoned.add(name)
        else:
            cordoned.discard(name)
        most = max(most, len(cordoned))

    subscription = sandbox.cluster(CLUSTER).emulator.store.subscribe(track, resource="nodes")
    try:
        provider.wait(provider.upgrade_node_group(CLUSTER, "default", "v1.32.0"))
    finally:
        subscription.close()
    assert most == 1
    assert kubelets(kube) == {"v1.32.0"}
    assert not any(n.get("spec", {}).get("unschedulable") for n in kube.list_objects(NODES).items)
    assert kube.get(DEPLOYMENTS, "web", namespace=NS)["status"]["readyReplicas"] == 3


def test_a_node_group_newer_than_the_control_plane_is_refused(provider: SandboxProvider, kube: KubeClient) -> None:
    """Kubelets may not run ahead of the control plane."""
    with pytest.raises(ProviderError, match="newer than the control plane"):
        provider.upgrade_node_group(CLUSTER, "default", "v1.32.0")
    assert kubelets(kube) == {"v1.31.4"}


def test_a_blocking_budget_halts_the_roll_naming_it(kube: KubeClient) -> None:
    """minAvailable at the replica count: DrainBlocked names the budget; the first node keeps the old kubelet."""
    deploy_with_budget(kube, replicas=3, minAvailable=3)
    provider = make_provider(kube, drain_timeout=0.5)
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    with pytest.raises(DrainBlocked, match=f"PodDisruptionBudget/{NS}/web") as blocked:
        provider.upgrade_node_group(CLUSTER, "default", "v1.32.0")
    assert blocked.value.node == f"{CLUSTER}-node-0"
    assert kubelets(kube) == {"v1.31.4"}


def test_wait_accepts_the_id_of_another_instance(provider: SandboxProvider, kube: KubeClient) -> None:
    """A resumed run builds a new provider: it waits on the id the first one returned."""
    operation = provider.upgrade_control_plane(CLUSTER, "v1.32.0")
    make_provider(kube).wait(operation)
    assert make_provider(kube).control_plane_version(CLUSTER) == "v1.32.0"


def test_wait_finishes_a_roll_a_crash_interrupted(provider: SandboxProvider, kube: KubeClient) -> None:
    """Waiting on a node group's id rolls the nodes still on the old kubelet (idempotent resume)."""
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    first = f"{CLUSTER}-node-0"
    kube.merge_patch(NODES, first, {"status": {"nodeInfo": {"kubeletVersion": "v1.32.0"}}}, subresource="status")
    make_provider(kube).wait(f"sandbox:{CLUSTER}:nodegroup/default:v1.32.0")
    assert kubelets(kube) == {"v1.32.0"}


@pytest.mark.parametrize("operation", ["eks:x:cluster:1", f"sandbox:{CLUSTER}:addons:v1.32.0", "sandbox:other"])
def test_wait_refuses_ids_it_did_not_make(provider: SandboxProvider, operation: str) -> None:
    """An id of another form is a ProviderError naming it."""
    with pytest.raises(ProviderError, match="unknown upgrade operation"):
        provider.wait(operation)


def test_no_addons_and_no_readiness_findings(provider: SandboxProvider) -> None:
    """The sandbox manages no add-ons and has no insights of its own."""
    assert provider.upgrade_addons(CLUSTER, "v1.32.0") == []
    assert provider.readiness(CLUSTER, "v1.32.0") == []
