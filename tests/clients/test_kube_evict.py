"""``KubeClient.evict``: the pods/eviction subresource through drd's client, with the 429's causes kept.

Aspects: a pod no budget protects is evicted; a budget allowing no disruption is a 429 KubeUnavailable whose
``causes`` name the budget; a missing pod is KubeNotFound; a uid precondition spares a pod with another uid.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drd.clients.errors import KubeConflict, KubeNotFound, KubeUnavailable
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import PODS, Resource
from drd.sandbox.kube.emulator import KubeEmulator

NS = "default"
PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")


@pytest.fixture
def kube() -> Iterator[KubeClient]:
    """drd's client of a bare emulated cluster with Ready pod ``db-0``."""
    with KubeEmulator() as emulator:
        client = KubeClient.from_api_url(emulator.url, cluster="test")
        pod = {"metadata": {"name": "db-0", "labels": {"app": "db"}}, "spec": {"containers": [{"name": "db"}]}}
        client.create(PODS, pod, namespace=NS)
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        client.merge_patch(PODS, "db-0", {"status": status}, namespace=NS, subresource="status")
        yield client
        client.close()


def test_a_pod_no_budget_protects_is_evicted(kube: KubeClient) -> None:
    """The eviction is granted and the pod is gone."""
    kube.evict(NS, "db-0")
    assert kube.find(PODS, "db-0", namespace=NS) is None


def test_a_budget_allowing_no_disruption_is_a_429_whose_causes_name_it(kube: KubeClient) -> None:
    """The refusal keeps the Status's DisruptionBudget cause; the pod stays."""
    pdb = {"metadata": {"name": "db"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}}
    kube.create(PDBS, pdb, namespace=NS)
    with pytest.raises(KubeUnavailable) as refused:
        kube.evict(NS, "db-0")
    assert refused.value.status == 429
    [cause] = refused.value.causes
    assert cause["reason"] == "DisruptionBudget"
    assert cause["message"].startswith("The disruption budget db needs 1 healthy pods")
    assert kube.find(PODS, "db-0", namespace=NS) is not None


def test_a_missing_pod_is_not_found(kube: KubeClient) -> None:
    """Evicting a pod that is not there is KubeNotFound (a drain treats it as done)."""
    with pytest.raises(KubeNotFound):
        kube.evict(NS, "nope")


def test_a_uid_precondition_spares_a_pod_with_another_uid(kube: KubeClient) -> None:
    """A replacement under the same name is not evicted in place of the pod meant."""
    with pytest.raises(KubeConflict):
        kube.evict(NS, "db-0", uid="another-uid")
    assert kube.find(PODS, "db-0", namespace=NS) is not None
