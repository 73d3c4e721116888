"""Pre-flight rules as table tests over plain data.

Aspects covered: the control plane moves one minor at a time (patch upgrades allowed, skips and downgrades
blocked); kubelets never newer than the control plane and at most 3 minors behind the target (2 before 1.28),
named per node; PodDisruptionBudgets allowing no disruption block drains, naming their pods; NotReady nodes
block, cordoned ones warn; an unreadable server version blocks; a requested deprecated API the target removes
blocks (naming the API and its replacement), one removed later warns, unreadable usage warns.
"""

from __future__ import annotations

import pytest

from drd.upgrades import preflight, versions
from drd.upgrades.preflight import Budget, ClusterFacts, DeprecatedApi, Node, PodRef, Severity


def v(text: str) -> versions.Version:
    return versions.parse(text)


@pytest.mark.parametrize(
    ("current", "target", "expected"),
    [
        pytest.param("v1.31.4", "v1.32.0", None, id="one minor up"),
        pytest.param("v1.31.4-eks-a5ec690", "v1.32.0", None, id="provider suffix ignored"),
        pytest.param("v1.31.2", "v1.31.4", None, id="patch within the minor"),
        pytest.param("v1.31.4", "v1.31.4", None, id="already at target"),
        pytest.param("v1.30.9", "v1.32.0", "would skip 1.31", id="skips one minor"),
        pytest.param("v1.29.0", "v1.32.0", "would skip 1.30, 1.31", id="skips two minors"),
        pytest.param("v1.32.1", "v1.31.4", "is a downgrade", id="minor downgrade"),
        pytest.param("v1.32.3", "v1.32.0", "is a downgrade", id="patch downgrade"),
    ],
)
def test_control_plane_moves_one_minor_at_a_time(current: str, target: str, expected: str | None) -> None:
    """Skipping a minor or going down blocks the cluster; one minor or a patch up does not."""
    findings = preflight.control_plane("c", v(current), v(target))
    if expected is None:
        assert findings == []
    else:
        (finding,) = findings
        assert (finding.severity, finding.object) == (Severity.BLOCKING, "Cluster/c")
        assert expected in finding.message


@pytest.mark.parametrize(
    ("current", "target", "kubelet", "expected"),
    [
        pytest.param("v1.31.4", "v1.32.0", "v1.31.4", None, id="kubelet at the control plane"),
        pytest.param("v1.31.4", "v1.32.0", "v1.29.8", None, id="3 behind the target since 1.28"),
        pytest.param("v1.31.4", "v1.32.0", "v1.28.1", "would be 4 minors behind", id="4 behind the target"),
        pytest.param("v1.26.0", "v1.27.0", "v1.25.3", None, id="2 behind before 1.28"),
        pytest.param("v1.26.0", "v1.27.0", "v1.24.3", "(at most 2 allowed)", id="3 behind before 1.28"),
        pytest.param("v1.31.4", "v1.32.0", "v1.32.0", "newer than the control plane", id="kubelet newer"),
        pytest.param("v1.31.4", "v1.32.0", "garbage", "kubelet version unknown", id="unreadable kubelet"),
    ],
)
def test_kubelets_stay_within_the_skew_policy(current: str, target: str, kubelet: str, expected: str | None) -> None:
    """A control-plane hop that would leave a kubelet too far behind, or a kubelet newer, blocks, naming the node."""
    findings = preflight.kubelet_skew([Node("n1", kubelet, ready=True)], v(current), v(target))
    if expected is None:
        assert findings == []
    else:
        (finding,) = findings
        assert (finding.severity, finding.object) == (Severity.BLOCKING, "Node/n1")
        assert expected in finding.message


@pytest.mark.parametrize(
    ("budget", "expected"),
    [
        pytest.param(Budget("shop", "db", 1, (PodRef("shop", "db-0", "n1"),)), None, id="disruption allowed"),
        pytest.param(Budget("shop", "db", 0, ()), None, id="no pods selected"),
        pytest.param(
            Budget("shop", "db", 0, (PodRef("shop", "db-0", "n1"), PodRef("shop", "db-1", "n2"))),
            "protects shop/db-0 (on n1), shop/db-1 (on n2): draining n1, n2",
            id="zero allowed with pods",
        ),
    ],
)
def test_budgets_allowing_no_disruption_block_drains(budget: Budget, expected: str | None) -> None:
    """A PDB with disruptionsAllowed 0 over evictable pods blocks, naming the PDB, its pods and their nodes."""
    findings = preflight.budgets_blocking_drain([budget])
    if expected is None:
        assert findings == []
    else:
        (finding,) = findings
        assert (finding.severity, finding.object) == (Severity.BLOCKING, "PodDisruptionBudget/shop/db")
        assert expected in finding.message


def test_a_budget_names_at_most_ten_pods() -> None:
    """A budget over many pods names ten and counts the rest."""
    pods = tuple(PodRef("shop", f"web-{i}", "n1") for i in range(12))
    (finding,) = preflight.budgets_blocking_drain([Budget("shop", "web", 0, pods)])
    assert "web-9 (on n1) and 2 more" in finding.message


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        pytest.param(Node("n1", "v1.31.4", ready=True), None, id="ready"),
        pytest.param(Node("n1", "v1.31.4", ready=False), Severity.BLOCKING, id="not ready"),
        pytest.param(Node("n1", "v1.31.4", ready=True, unschedulable=True), Severity.WARNING, id="cordoned"),
    ],
)
def test_nodes_must_be_ready(node: Node, expected: Severity | None) -> None:
    """A NotReady node blocks; a cordoned one is a warning."""
    findings = preflight.node_readiness([node])
    assert expected == (findings[0].severity if findings else None)


def test_an_unreadable_server_version_blocks() -> None:
    """Without the control plane's version the skew rules cannot be checked, so the cluster is blocked."""
    facts = ClusterFacts("c", "", nodes=(Node("n1", "v1.31.4", ready=True),))
    (finding,) = preflight.check(facts, "v1.32.0")
    assert (finding.object, finding.rule, finding.blocking) == ("Cluster/c", "control-plane-version", True)


def test_check_orders_version_then_drain_then_node_findings() -> None:
    """Findings come as version rules, then drains, then nodes, so the first line is the most fundamental."""
    facts = ClusterFacts(
        "c",
        "v1.30.1",
        nodes=(Node("n1", "v1.30.1", ready=False),),
        budgets=(Budget("shop", "db", 0, (PodRef("shop", "db-0", "n1"),)),),
    )
    rules = [finding.rule for finding in preflight.check(facts, "v1.32.0")]
    assert rules == ["control-plane-version", "pdb-blocks-drain", "node-ready"]


FLOWSCHEMAS_V1BETA3 = DeprecatedApi("flowcontrol.apiserver.k8s.io", "v1beta3", "flowschemas", "", "1.32")


@pytest.mark.parametrize(
    ("api", "target", "expected"),
    [
        pytest.param(
            FLOWSCHEMAS_V1BETA3,
            "v1.32.0",
            (Severity.BLOCKING, "removed in 1.32: v1.32.0 no longer serves it; move its clients to "
             "flowcontrol.apiserver.k8s.io/v1 first"),
            id="removed by the target",
        ),
        pytest.param(
            DeprecatedApi("policy", "v1beta1", "poddisruptionbudgets", "", "1.25"),
            "v1.26.0",
            (Severity.BLOCKING, "removed in 1.25"),
            id="removed earlier still blocks",
        ),
        pytest.param(
            FLOWSCHEMAS_V1BETA3,
            "v1.31.5",
            (Severity.WARNING, "v1.31.5 still serves it, 1.32 removes it"),
            id="removed after the target",
        ),
        pytest.param(
            DeprecatedApi("example.com", "v1alpha1", "widgets", "status", ""),
            "v1.32.0",
            (Severity.WARNING, "move its clients to a served version"),
            id="no removal planned",
        ),
    ],
)  # fmt: skip
def test_deprecated_apis_in_use_block_when_the_target_removes_them(
    api: DeprecatedApi, target: str, expected: tuple[Severity, str]
) -> None:
    """An API still requested that the target no longer serves blocks; removed later (or never) is a warning."""
    (finding,) = preflight.deprecated_apis("c", [api], v(target))
    assert (finding.severity, finding.rule) == (expected[0], "deprecated-api")
    assert expected[1] in finding.message


def test_a_deprecated_api_is_named_by_group_version_resource() -> None:
    """The finding's object is API/<group>/<version>/<resource>[/<subresource>]; the core group has none."""
    names = [
        str(DeprecatedApi("flowcontrol.apiserver.k8s.io", "v1beta3", "flowschemas")),
        str(DeprecatedApi("", "v1", "componentstatuses", "status")),
    ]
    assert names == ["API/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas", "API/v1/componentstatuses/status"]


def test_unreadable_deprecated_api_usage_is_a_warning_not_a_pass() -> None:
    """When /metrics could not be read the cluster gets a warning saying the check did not run."""
    facts = ClusterFacts("c", "v1.31.4", nodes=(Node("n1", "v1.31.4", ready=True),), deprecated_apis_unchecked="403")
    (finding,) = preflight.check(facts, "v1.32.0")
    assert (finding.severity, finding.object, finding.rule) == (Severity.WARNING, "Cluster/c", "deprecated-api")
    assert "could not be checked (403): the check did not run" in finding.message
