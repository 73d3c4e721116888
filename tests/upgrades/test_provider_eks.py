"""The ``eks`` upgrade provider's state machine over an in-memory EKS (and, for wiring, over moto's server).

Aspects: the control plane moves one minor, only once every managed node group
runs its minor (the groups behind are named); operation ids are self-describing
so a new provider can wait on an earlier one's; waiting polls InProgress to
Successful, a Failed or Cancelled update is a ProviderError carrying EKS's
error code, message and resources, and the deadline a temporary timeout; a
repeated step adopts its update, a step repeated after a failure starts anew;
node groups are forced only when the drain policy says so; add-ons move to the
default version of the target minor; insights become findings (ERROR and
UNKNOWN block, WARNING warns) and name the blocking ones when EKS refuses.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import boto3
import pytest

from drd.clients.eks import (
    AddonVersion,
    ClientStat,
    Deprecation,
    EksNotImplemented,
    Insight,
    InsightSummary,
    UpdateError,
)
from drd.errors import TemporaryError
from drd.policy.models.cluster import Cluster
from drd.sandbox.s3 import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, MotoS3
from drd.upgrades.preflight import Finding, Severity
from drd.upgrades.providers import NodeGroup, Provider, ProviderError
from drd.upgrades.providers.eks import EksProvider, UpgradeTimedOut, eks_name
from drd.upgrades.providers.registry import DrainPolicy
from tests.policy.builders import a_cluster
from tests.support.clocks import ManualClock
from tests.upgrades.fake_eks import FakeEks

CLUSTER = "prod-a"
REMOVED = "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas"


def provider_of(eks: FakeEks, *, force: bool = False, clock: ManualClock | None = None) -> EksProvider:
    """A provider of ``prod-a`` over the fake; polls every 30 s on a manual clock (no real waiting)."""
    return EksProvider({CLUSTER: eks}, drain=DrainPolicy(force=force), clock=clock or ManualClock(), poll_seconds=30)


def an_insight(
    status: str, *, resources: tuple[str, ...] = (), deprecations: tuple[Deprecation, ...] = (), version: str = "1.32"
) -> Insight:
    """An upgrade insight for ``version`` in ``status``."""
    summary = InsightSummary(
        f"i-{status.lower()}", f"Deprecated APIs removed in Kubernetes v{version}", status, kubernetes_version=version
    )
    return Insight(summary, resources=resources, deprecations=deprecations)


# ---------------------------------------------------------------------- control plane


def test_the_eks_provider_is_a_provider() -> None:
    """EksProvider satisfies the Provider protocol and reports the control plane's minor as a version."""
    as_protocol: Provider = provider_of(FakeEks())
    assert as_protocol.control_plane_version(CLUSTER) == "v1.31"


def test_the_control_plane_moves_one_minor_with_a_self_describing_operation() -> None:
    """upgrade_control_plane asks EKS for the target minor and returns eks:CLUSTER:cluster:UPDATE."""
    eks = FakeEks(nodegroups={"ng-1": "1.31"})
    operation = provider_of(eks).upgrade_control_plane(CLUSTER, "v1.32.0")
    assert operation == "eks:prod-a:cluster:u-1"
    assert [c["version"] for c in eks.started("update_cluster_version")] == ["1.32"]


def test_a_hop_skipping_a_minor_is_refused_before_asking_eks() -> None:
    """A control-plane hop over a minor is a ProviderError naming the hop to take, and nothing is started."""
    eks = FakeEks()
    with pytest.raises(ProviderError, match=r"cannot skip to v1\.33\.0; upgrade to 1\.32 first"):
        provider_of(eks).upgrade_control_plane(CLUSTER, "v1.33.0")
    assert eks.started("update_cluster_version") == []


def test_node_groups_behind_the_control_plane_block_its_next_minor() -> None:
    """EKS's rule: every managed node group on the cluster's minor first; the groups behind are named."""
    eks = FakeEks(nodegroups={"ng-1": "1.31", "ng-2": "1.30", "ng-3": "1.29"})
    with pytest.raises(ProviderError) as raised:
        provider_of(eks).upgrade_control_plane(CLUSTER, "v1.32.0")
    assert str(raised.value) == (
        "cluster prod-a: EKS upgrades the control plane only when every managed node group runs its version 1.31; "
        "upgrade these node groups to 1.31 first: ng-2 (1.30), ng-3 (1.29)"
    )
    assert eks.started("update_cluster_version") == []


def test_a_control_plane_already_on_the_target_minor_needs_no_update() -> None:
    """Already on the target minor (EKS picks patches): an operation that is done, and no request."""
    eks = FakeEks(version="1.32")
    provider = provider_of(eks)
    operation = provider.upgrade_control_plane(CLUSTER, "v1.32.3")
    provider.wait(operation)
    assert operation == "eks:prod-a:cluster:-"
    assert eks.started("update_cluster_version") == []
    assert eks.started("describe_update") == []


def test_repeating_the_step_adopts_the_update_already_started() -> None:
    """The same hop asked twice (a resume after a crash) sends the same token and gets the same update."""
    eks = FakeEks()
    provider = provider_of(eks)
    first = provider.upgrade_control_plane(CLUSTER, "v1.32.0")
    again = provider_of(eks).upgrade_control_plane(CLUSTER, "v1.32.0")
    assert first == again
    tokens = {c["token"] for c in eks.started("update_cluster_version")}
    assert len(tokens) == 1


def test_repeating_the_step_after_a_failure_starts_a_new_update() -> None:
    """When the token's update has failed, a resume starts a fresh update with a token derived from it."""
    eks = FakeEks(script=["InProgress", "Failed"])
    provider = provider_of(eks)
    with pytest.raises(ProviderError):
        provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    assert provider.upgrade_control_plane(CLUSTER, "v1.32.0") == "eks:prod-a:cluster:u-2"


def test_a_readiness_refusal_names_the_blocking_insights() -> None:
    """EKS's InvalidStateException only says "call ListInsights"; drd's error names the ERROR insights."""
    deprecation = Deprecation(REMOVED, stop_serving_version="1.32", clients=(ClientStat("old-operator/v0.3", 42),))
    eks = FakeEks(insights=[an_insight("ERROR", deprecations=(deprecation,))])
    with pytest.raises(ProviderError) as raised:
        provider_of(eks).upgrade_control_plane(CLUSTER, "v1.32.0")
    message = str(raised.value)
    assert message.startswith("cluster prod-a: ")
    assert "InvalidStateException" in message
    assert "blocking insights: EKS insight 'Deprecated APIs removed in Kubernetes v1.32' is ERROR" in message
    assert "still called by old-operator/v0.3 (42 requests in 30 days)" in message


# ---------------------------------------------------------------------- waiting


def test_wait_polls_until_the_update_succeeds() -> None:
    """wait describes the update until it is Successful, sleeping the poll interval between reads."""
    clock = ManualClock()
    eks = FakeEks(script=["InProgress", "InProgress", "InProgress", "Successful"])
    provider = provider_of(eks, clock=clock)
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    assert len(eks.started("describe_update")) == 3
    assert clock.monotonic() == 60


def test_a_failed_update_names_the_error_code_message_and_resources() -> None:
    """A Failed node-group update is a ProviderError with EKS's errorCode, errorMessage, resourceIds and a hint."""
    error = UpdateError(
        "PodEvictionFailure", "Reached max retries while trying to evict pods from nodes in node group ng-1", ("ng-1",)
    )
    eks = FakeEks(version="1.32", nodegroups={"ng-1": "1.31"}, script=["InProgress", "Failed"], errors=(error,))
    provider = provider_of(eks)
    operation = provider.upgrade_node_group(CLUSTER, "ng-1", "v1.32.0")
    with pytest.raises(ProviderError) as raised:
        provider.wait(operation)
    message = str(raised.value)
    assert message.startswith(
        "cluster prod-a: nodegroup ng-1 VersionUpdate Failed: PodEvictionFailure: Reached max retries while trying "
        "to evict pods from nodes in node group ng-1 (resources: ng-1) (a PodDisruptionBudget"
    )
    assert message.endswith(f"[{operation}]")


def test_a_cancelled_update_is_a_provider_error() -> None:
    """A Cancelled update is a permanent ProviderError, even without error details."""
    eks = FakeEks(script=["InProgress", "Cancelled"])
    provider = provider_of(eks)
    with pytest.raises(ProviderError, match="control plane VersionUpdate Cancelled: EKS reported no error details"):
        provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))


def test_the_deadline_is_a_temporary_timeout_naming_the_last_state() -> None:
    """An update still InProgress at the deadline raises UpgradeTimedOut (temporary) with what was last seen."""
    eks = FakeEks(script=["InProgress"])
    provider = provider_of(eks)
    operation = provider.upgrade_control_plane(CLUSTER, "v1.32.0")
    with pytest.raises(UpgradeTimedOut) as raised:
        provider.wait(operation, timeout_seconds=100)
    assert isinstance(raised.value, TemporaryError)
    assert str(raised.value) == (
        "timed out after 100s waiting for eks:prod-a:cluster:u-1; last seen: VersionUpdate InProgress"
    )


def test_a_temporary_api_error_while_waiting_is_retried() -> None:
    """Throttling while polling is retried until the deadline rather than ending the wait."""
    eks = FakeEks(unavailable=2)
    provider = provider_of(eks)
    provider.wait(provider.upgrade_control_plane(CLUSTER, "v1.32.0"))
    assert len(eks.started("describe_update")) == 3


def test_a_new_provider_waits_on_an_operation_an_earlier_one_returned() -> None:
    """After a crash, a fresh provider resumes waiting from the operation id alone (the add-on named)."""
    eks = FakeEks(version="1.32", addons={"coredns": "v1.11.1-eksbuild.9"})
    eks.addon_versions["coredns"] = [AddonVersion("v1.11.4-eksbuild.2", ("1.32",), ("1.32",))]
    [operation] = provider_of(eks).upgrade_addons(CLUSTER, "v1.32.0")
    provider_of(eks).wait(operation)
    assert eks.started("describe_update") == [{"id": "u-1", "nodegroup": "", "addon": "coredns"}]


def test_an_operation_id_of_another_kind_is_refused() -> None:
    """A malformed id is a ProviderError naming the expected form, not an exception from parsing."""
    with pytest.raises(ProviderError, match=r"not an EKS operation id \(eks:CLUSTER:RESOURCE:UPDATE\)"):
        provider_of(FakeEks()).wait("sandbox-3")


def test_a_cluster_the_provider_does_not_know_is_refused() -> None:
    """A cluster outside the provider's inventory is a ProviderError naming it."""
    with pytest.raises(ProviderError, match="cluster dr-west: not an EKS cluster of this provider"):
        provider_of(FakeEks()).control_plane_version("dr-west")


# ---------------------------------------------------------------------- node groups


def test_node_groups_are_listed_with_their_minor() -> None:
    """node_groups lists the managed groups by name with their version; EKS names no nodes."""
    eks = FakeEks(nodegroups={"ng-2": "1.30", "ng-1": "1.31"})
    assert provider_of(eks).node_groups(CLUSTER) == [
        NodeGroup("ng-1", (), ("v1.31",)),
        NodeGroup("ng-2", (), ("v1.30",)),
    ]


def test_a_node_group_is_never_forced_by_default() -> None:
    """Without drain.force, UpdateNodegroupVersion is sent with force false, and the id names the group."""
    eks = FakeEks(version="1.32", nodegroups={"ng-1": "1.31"})
    operation = provider_of(eks).upgrade_node_group(CLUSTER, "ng-1", "v1.32.0")
    assert operation == "eks:prod-a:nodegroup/ng-1:u-1"
    assert eks.started("update_nodegroup_version") == [{"nodegroup": "ng-1", "version": "1.32", "force": False}]


def test_a_node_group_is_forced_when_the_plan_says_so() -> None:
    """With drain.force, UpdateNodegroupVersion carries force true."""
    eks = FakeEks(version="1.32", nodegroups={"ng-1": "1.31"})
    provider_of(eks, force=True).upgrade_node_group(CLUSTER, "ng-1", "v1.32.0")
    assert [c["force"] for c in eks.started("update_nodegroup_version")] == [True]


def test_a_node_group_newer_than_the_control_plane_is_refused() -> None:
    """A group cannot move past the control plane's minor (version-skew policy)."""
    eks = FakeEks(version="1.31", nodegroups={"ng-1": "1.31"})
    refusal = "node group ng-1 cannot run v1.32.0, newer than the control plane v1.31"
    with pytest.raises(ProviderError, match=re.escape(refusal)):
        provider_of(eks).upgrade_node_group(CLUSTER, "ng-1", "v1.32.0")
    assert eks.started("update_nodegroup_version") == []


def test_a_node_group_on_a_custom_ami_is_refused() -> None:
    """A custom-AMI group's version is its launch template's; drd says so instead of sending a doomed request."""
    eks = FakeEks(version="1.32", nodegroups={"ng-1": "1.31"}, custom_ami={"ng-1"})
    with pytest.raises(ProviderError, match="node group ng-1 runs a custom AMI"):
        provider_of(eks).upgrade_node_group(CLUSTER, "ng-1", "v1.32.0")


# ---------------------------------------------------------------------- add-ons


def test_only_incompatible_add_ons_move_to_the_default_version_of_the_target() -> None:
    """An add-on whose version lacks the target minor moves to that minor's default; a compatible one stays."""
    eks = FakeEks(version="1.32", addons={"coredns": "v1.11.1-eksbuild.9", "kube-proxy": "v1.32.0-eksbuild.2"})
    eks.addon_versions = {
        "coredns": [
            AddonVersion("v1.11.4-eksbuild.10", ("1.32",)),
            AddonVersion("v1.11.4-eksbuild.2", ("1.32", "1.31"), ("1.32",)),
            AddonVersion("v1.11.1-eksbuild.9", ("1.31",), ("1.31",)),
        ],
        "kube-proxy": [AddonVersion("v1.32.0-eksbuild.2", ("1.32",), ("1.32",))],
    }
    operations = provider_of(eks).upgrade_addons(CLUSTER, "v1.32.0")
    assert operations == ["eks:prod-a:addon/coredns:u-1"]
    assert eks.started("update_addon") == [{"addon": "coredns", "version": "v1.11.4-eksbuild.2"}]


def test_an_add_on_without_a_compatible_version_is_refused() -> None:
    """An add-on EKS publishes no version of for the target is a ProviderError naming it."""
    eks = FakeEks(version="1.32", addons={"legacy": "v0.1.0"})
    refusal = "add-on legacy v0.1.0 has no version EKS publishes for Kubernetes 1.32"
    with pytest.raises(ProviderError, match=re.escape(refusal)):
        provider_of(eks).upgrade_addons(CLUSTER, "v1.32.0")


# ---------------------------------------------------------------------- readiness


def test_an_error_insight_blocks_and_names_the_client_calling_the_removed_api() -> None:
    """An ERROR upgrade insight is a blocking eks-insight finding naming the removed API and its caller."""
    deprecation = Deprecation(
        REMOVED,
        replaced_with="/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
        stop_serving_version="1.32",
        clients=(ClientStat("old-operator/v0.3", 42, datetime(2026, 2, 27, tzinfo=UTC)),),
    )
    eks = FakeEks(insights=[an_insight("ERROR", deprecations=(deprecation,))])
    assert provider_of(eks).readiness(CLUSTER, "v1.32.0") == [
        Finding(
            Severity.BLOCKING,
            "Cluster/prod-a",
            "EKS insight 'Deprecated APIs removed in Kubernetes v1.32' is ERROR; "
            f"{REMOVED} is removed in 1.32 (use /apis/flowcontrol.apiserver.k8s.io/v1/flowschemas), "
            "still called by old-operator/v0.3 (42 requests in 30 days)",
            "eks-insight",
        )
    ]


def test_insight_statuses_map_to_severities() -> None:
    """UNKNOWN blocks (not passed), WARNING warns, PASSING yields nothing."""
    eks = FakeEks(insights=[an_insight("UNKNOWN"), an_insight("WARNING"), an_insight("PASSING")])
    found = provider_of(eks).readiness(CLUSTER, "v1.32.0")
    assert [(f.severity, f.rule) for f in found] == [
        (Severity.BLOCKING, "eks-insight"),
        (Severity.WARNING, "eks-insight"),
    ]


def test_an_insight_about_one_resource_names_that_resource() -> None:
    """An insight naming exactly one resource is reported against it rather than the cluster."""
    arn = "arn:aws:eks:us-east-1:123456789012:addon/prod-a/coredns/abc"
    eks = FakeEks(insights=[an_insight("WARNING", resources=(arn,))])
    assert [f.object for f in provider_of(eks).readiness(CLUSTER, "v1.32.0")] == [arn]


def test_insights_of_other_minors_are_ignored() -> None:
    """Only the insights for the target minor are read."""
    eks = FakeEks(insights=[an_insight("ERROR", version="1.33")])
    assert provider_of(eks).readiness(CLUSTER, "v1.32.0") == []


# ---------------------------------------------------------------------- wiring


def test_the_eks_name_comes_from_an_eks_context_arn() -> None:
    """A kubeconfig context ``arn:aws:eks:REGION:ACCOUNT:cluster/NAME`` names the EKS cluster."""
    arn = "arn:aws:eks:us-east-1:123456789012:cluster/prod-a-eks"
    cluster = Cluster.model_validate(a_cluster("prod-a", region="us-east-1", connection={"context": arn}))
    assert eks_name(cluster) == "prod-a-eks"


def test_the_eks_name_defaults_to_the_inventory_name() -> None:
    """Any other context leaves the EKS name equal to drd's cluster name."""
    assert eks_name(Cluster.model_validate(a_cluster("prod-a", region="us-east-1"))) == "prod-a"


def test_for_cluster_reaches_eks_in_its_region_over_http(moto: MotoS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """for_cluster builds a boto3-backed provider (AWS_ENDPOINT_URL honoured) that reads moto's cluster."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    provider = EksProvider.for_cluster(
        Cluster.model_validate(a_cluster(CLUSTER, region="eu-west-1")), drain=DrainPolicy()
    )
    aws = boto3.client("eks", region_name="eu-west-1")
    role = "arn:aws:iam::123456789012:role/eks"
    aws.create_cluster(name=CLUSTER, version="1.31", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    aws.create_nodegroup(clusterName=CLUSTER, nodegroupName="ng-1", nodeRole=role, subnets=["s"], version="1.31")
    assert provider.control_plane_version(CLUSTER) == "v1.31"
    assert provider.node_groups(CLUSTER) == [NodeGroup("ng-1", (), ("v1.31",))]
    with pytest.raises(EksNotImplemented, match=re.escape("update cluster version to 1.32")):
        provider.upgrade_control_plane(CLUSTER, "v1.32.0")
