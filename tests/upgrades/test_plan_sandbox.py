"""Pre-flight facts read from the sandbox's emulated clusters, and ``drd upgrade plan`` over them.

Aspects covered: facts carry the server's gitVersion, each node's kubelet version and the pods a PDB protects
(DaemonSet pods excluded); ``drd upgrade plan`` prints stages in order and exits 0 when nothing blocks; a
cluster a minor too far behind, a kubelet too old, and a PDB allowing no disruption each make it exit 1, named;
``-o json`` gives the same report as data; an unknown plan is a usage error.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drd.cli.main import main
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NAMESPACES, NODES, PODS
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.upgrades import facts
from drd.upgrades.facts import PDBS

ROOT = Path(__file__).parents[2]
Drd = Callable[..., tuple[int, str, str]]


@pytest.fixture
def drd(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Drd:
    """``drd(*argv)`` in-process against the sandbox, with the example plan in its configuration."""
    paths = write_files(sandbox, tmp_path / "sb")
    (paths["config"] / "upgrade-1-32.yaml").write_text(
        (ROOT / "policies" / "upgrade-1-32.yaml").read_text().replace("canaryDrill: shop-nightly", "")
    )
    monkeypatch.setenv("DRD_CONFIG", str(paths["config"]))
    monkeypatch.setenv("KUBECONFIG", str(paths["kubeconfig"]))
    monkeypatch.setenv("DRD_STATE", str(tmp_path / "drd.sqlite"))

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    return run


def set_kubelet(kube: KubeClient, node: str, version: str) -> None:
    """Report ``version`` as the node's kubelet, as a kubelet would after its upgrade."""
    kube.merge_patch(NODES, node, {"status": {"nodeInfo": {"kubeletVersion": version}}}, subresource="status")


def add_protected_pod(kube: KubeClient, *, allowed: int, owner: dict[str, Any] | None = None) -> None:
    """Pod ``shop/db-0`` on the first node, and PDB ``shop/db`` over it allowing ``allowed`` disruptions."""
    kube.create(NAMESPACES, {"metadata": {"name": "shop"}})
    node = sorted(item["metadata"]["name"] for item in kube.list_objects(NODES).items)[0]
    metadata: dict[str, Any] = {"name": "db-0", "labels": {"app": "db"}}
    if owner:
        metadata["ownerReferences"] = [owner]
    pod = {"metadata": metadata, "spec": {"nodeName": node, "containers": [{"name": "db", "image": "postgres:16"}]}}
    kube.create(PODS, pod, namespace="shop")
    pdb = {"metadata": {"name": "db"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}}
    kube.create(PDBS, pdb, namespace="shop")
    kube.merge_patch(PDBS, "db", {"status": {"disruptionsAllowed": allowed}}, namespace="shop", subresource="status")


def test_facts_read_versions_nodes_and_protected_pods(sandbox: Sandbox) -> None:
    """gather() returns the gitVersion, each node's kubelet and the pods each PDB protects."""
    canary = sandbox.cluster("canary-east")
    add_protected_pod(canary.kube, allowed=0)
    found = facts.gather(canary.kube, cluster="canary-east")
    assert found.server_version == "v1.31.4"
    assert {"v1.31.4"} == {node.kubelet_version for node in found.nodes}
    (budget,) = found.budgets
    assert (budget.disruptions_allowed, [pod.name for pod in budget.pods]) == (0, ["db-0"])


def test_daemonset_pods_do_not_count_for_a_budget(sandbox: Sandbox) -> None:
    """A drain leaves DaemonSet pods alone, so a PDB over them blocks nothing."""
    canary = sandbox.cluster("canary-east")
    add_protected_pod(
        canary.kube, allowed=0, owner={"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "db", "uid": "u1"}
    )
    (budget,) = facts.gather(canary.kube, cluster="canary-east").budgets
    assert budget.pods == ()


def test_plan_prints_stages_in_order_and_exits_0(drd: Drd) -> None:
    """With every cluster on v1.31.4, the plan shows canary, dr, production and nothing blocks."""
    code, out, _ = drd("upgrade", "plan", "upgrade-1-32")
    assert code == 0
    order = [out.index(f"  {name} (") for name in ("canary-east", "dr-west", "primary-east")]
    assert sorted(order) == order
    assert "canary-east (canary): v1.31.4 → v1.32.0  ready" in out
    assert "1. control plane: v1.31.4 → v1.32.0, then verify" in out


def test_a_cluster_that_would_skip_a_minor_blocks(sandbox: Sandbox, drd: Drd) -> None:
    """dr-west on v1.30 cannot go to v1.32: the plan names the minor it would skip and exits 1."""
    sandbox.cluster("dr-west").emulator.api.git_version = "v1.30.2"
    for index in range(3):
        set_kubelet(sandbox.cluster("dr-west").kube, f"dr-west-node-{index}", "v1.30.2")
    code, out, _ = drd("upgrade", "plan", "upgrade-1-32")
    assert code == 1
    assert "blocking: Cluster/dr-west: v1.30.2 → v1.32.0 would skip 1.31" in out


def test_a_kubelet_too_far_behind_blocks_naming_the_node(sandbox: Sandbox, drd: Drd) -> None:
    """A kubelet on 1.28 would be 4 minors behind v1.32: the node is named."""
    set_kubelet(sandbox.cluster("primary-east").kube, "primary-east-node-1", "v1.28.9")
    code, out, _ = drd("upgrade", "plan", "upgrade-1-32")
    assert code == 1
    assert "blocking: Node/primary-east-node-1: kubelet v1.28.9 would be 4 minors behind" in out


def test_a_budget_allowing_no_disruption_blocks_in_json(sandbox: Sandbox, drd: Drd) -> None:
    """-o json reports the PDB and its pod as a blocking finding of the canary."""
    add_protected_pod(sandbox.cluster("canary-east").kube, allowed=0)
    code, out, _ = drd("upgrade", "plan", "upgrade-1-32", "-o", "json")
    report = json.loads(out)
    canary = report["stages"][0]["clusters"][0]
    assert (code, report["blocked"], canary["name"]) == (1, True, "canary-east")
    (finding,) = canary["findings"]
    assert (finding["severity"], finding["object"]) == ("blocking", "PodDisruptionBudget/shop/db")
    assert "shop/db-0" in finding["message"]


def test_an_unknown_plan_is_a_usage_error(drd: Drd) -> None:
    """Naming a plan that does not exist exits 2 and lists the known plans."""
    code, _, err = drd("upgrade", "plan", "nope")
    assert code == 2
    assert 'no UpgradePlan "nope"' in err
    assert "upgrade-1-32" in err
