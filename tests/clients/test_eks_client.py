"""The EKS adapter's wire contract, with botocore's Stubber: the exact requests sent and responses parsed.

Aspects: each operation the upgrade provider uses (requests byte for byte as
botocore validates them, responses into drd's dataclasses), and how EKS's
errors become drd's typed errors: InvalidStateException (readiness insights)
and ResourceNotFound are permanent, throttling, 5xx and a refused connection
temporary, and a 404 without an EKS code is "not implemented", not "not found".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.stub import Stubber

from drd.clients.eks import (
    AddonVersion,
    ClientStat,
    Deprecation,
    EksClient,
    EksCluster,
    EksNotFound,
    EksNotImplemented,
    EksRefused,
    EksUnavailable,
    EksUpdate,
    InsightSummary,
    UpdateError,
)
from drd.errors import PermanentError, TemporaryError

NAME = "prod-a"
EVICTION = "Reached max retries while trying to evict pods from nodes in node group ng-1"
READINESS = "Upgrade readiness issues detected. Call the EKS ListInsights API to view upgrade blocking issues."
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def boto_eks(endpoint_url: str | None = None, **config: Any) -> Any:
    return boto3.client(
        "eks",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=botocore.config.Config(**config),
    )


@pytest.fixture
def stub() -> Iterator[Stubber]:
    with Stubber(boto_eks()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def eks(stub: Stubber) -> EksClient:
    return EksClient(NAME, region="us-east-1", client=stub.client)


def an_update(update_id: str = "u-1", status: str = "InProgress", **fields: Any) -> dict[str, Any]:
    return {"update": {"id": update_id, "status": status, "type": "VersionUpdate", **fields}}


def test_describe_cluster_reads_the_minor_and_status(stub: Stubber, eks: EksClient) -> None:
    """DescribeCluster by name gives the control plane's minor, status and platform version."""
    cluster = {"name": NAME, "version": "1.31", "status": "ACTIVE", "platformVersion": "eks.12"}
    stub.add_response("describe_cluster", {"cluster": cluster}, {"name": NAME})
    assert eks.describe_cluster() == EksCluster(NAME, "1.31", "ACTIVE", "eks.12")


def test_update_cluster_version_sends_the_minor_and_the_idempotency_token(stub: Stubber, eks: EksClient) -> None:
    """UpdateClusterVersion carries the target minor and drd's clientRequestToken, never force."""
    params = [{"type": "Version", "value": "1.32"}, {"type": "PlatformVersion", "value": "eks.1"}]
    stub.add_response(
        "update_cluster_version",
        an_update(params=params),
        {"name": NAME, "version": "1.32", "clientRequestToken": "drd-abc"},
    )
    update = eks.update_cluster_version("1.32", token="drd-abc")
    assert update == EksUpdate(
        "u-1", "InProgress", "VersionUpdate", (("Version", "1.32"), ("PlatformVersion", "eks.1"))
    )


def test_describe_update_of_a_node_group_names_it_and_reads_the_errors(stub: Stubber, eks: EksClient) -> None:
    """DescribeUpdate of a node group's update sends nodegroupName and keeps every error with its resources."""
    errors = [
        {
            "errorCode": "PodEvictionFailure",
            "errorMessage": EVICTION,
            "resourceIds": ["ng-1"],
        }
    ]
    stub.add_response(
        "describe_update",
        an_update("u-2", "Failed", errors=errors, createdAt=WHEN),
        {"name": NAME, "updateId": "u-2", "nodegroupName": "ng-1"},
    )
    update = eks.describe_update("u-2", nodegroup="ng-1")
    assert update.status == "Failed"
    assert update.errors == (
        UpdateError(
            "PodEvictionFailure",
            "Reached max retries while trying to evict pods from nodes in node group ng-1",
            ("ng-1",),
        ),
    )


def test_describe_update_of_an_add_on_names_the_add_on(stub: Stubber, eks: EksClient) -> None:
    """DescribeUpdate of an add-on's update sends addonName and no nodegroupName."""
    stub.add_response(
        "describe_update", an_update("u-3", "Successful"), {"name": NAME, "updateId": "u-3", "addonName": "coredns"}
    )
    assert eks.describe_update("u-3", addon="coredns").status == "Successful"


def test_list_nodegroups_follows_every_page(stub: Stubber, eks: EksClient) -> None:
    """ListNodegroups is paginated; every page's names are returned."""
    stub.add_response("list_nodegroups", {"nodegroups": ["ng-1"], "nextToken": "t"}, {"clusterName": NAME})
    stub.add_response("list_nodegroups", {"nodegroups": ["ng-2"]}, {"clusterName": NAME, "nextToken": "t"})
    assert eks.list_nodegroups() == ["ng-1", "ng-2"]


def test_describe_nodegroup_reads_version_and_ami_type(stub: Stubber, eks: EksClient) -> None:
    """DescribeNodegroup gives the group's minor, release, status and AMI type."""
    group = {
        "nodegroupName": "ng-1",
        "version": "1.31",
        "releaseVersion": "1.31.4-20250101",
        "status": "ACTIVE",
        "amiType": "AL2023_x86_64_STANDARD",
    }
    stub.add_response("describe_nodegroup", {"nodegroup": group}, {"clusterName": NAME, "nodegroupName": "ng-1"})
    found = eks.describe_nodegroup("ng-1")
    assert (found.version, found.release_version, found.ami_type) == (
        "1.31",
        "1.31.4-20250101",
        "AL2023_x86_64_STANDARD",
    )


def test_update_nodegroup_version_sends_force_as_asked(stub: Stubber, eks: EksClient) -> None:
    """UpdateNodegroupVersion carries the minor, the force flag drd chose and the token."""
    expected = {
        "clusterName": NAME,
        "nodegroupName": "ng-1",
        "version": "1.32",
        "force": False,
        "clientRequestToken": "drd-ng",
    }
    stub.add_response("update_nodegroup_version", an_update("u-4"), expected)
    assert eks.update_nodegroup_version("ng-1", "1.32", token="drd-ng", force=False).id == "u-4"


def test_describe_addon_versions_reads_compatibilities_and_defaults(stub: Stubber, eks: EksClient) -> None:
    """DescribeAddonVersions for one add-on and minor gives each version's cluster minors and defaults."""
    versions = [
        {
            "addonVersion": "v1.11.4-eksbuild.2",
            "compatibilities": [
                {"clusterVersion": "1.32", "defaultVersion": True},
                {"clusterVersion": "1.31", "defaultVersion": False},
            ],
        },
        {"addonVersion": "v1.11.3-eksbuild.1", "compatibilities": [{"clusterVersion": "1.32"}]},
    ]
    stub.add_response(
        "describe_addon_versions",
        {"addons": [{"addonName": "coredns", "addonVersions": versions}]},
        {"addonName": "coredns", "kubernetesVersion": "1.32"},
    )
    assert eks.describe_addon_versions("coredns", "1.32") == [
        AddonVersion("v1.11.4-eksbuild.2", ("1.32", "1.31"), ("1.32",)),
        AddonVersion("v1.11.3-eksbuild.1", ("1.32",), ()),
    ]


def test_list_and_describe_addon_read_the_installed_version(stub: Stubber, eks: EksClient) -> None:
    """ListAddons and DescribeAddon give the installed add-ons and their versions."""
    stub.add_response("list_addons", {"addons": ["coredns"]}, {"clusterName": NAME})
    addon = {"addonName": "coredns", "addonVersion": "v1.11.1-eksbuild.9", "status": "ACTIVE"}
    stub.add_response("describe_addon", {"addon": addon}, {"clusterName": NAME, "addonName": "coredns"})
    assert eks.list_addons() == ["coredns"]
    assert eks.describe_addon("coredns").version == "v1.11.1-eksbuild.9"


def test_update_addon_preserves_user_configuration(stub: Stubber, eks: EksClient) -> None:
    """UpdateAddon asks for the version with resolveConflicts PRESERVE, so a user's configuration is kept."""
    expected = {
        "clusterName": NAME,
        "addonName": "coredns",
        "addonVersion": "v1.11.4-eksbuild.2",
        "resolveConflicts": "PRESERVE",
        "clientRequestToken": "drd-addon",
    }
    stub.add_response("update_addon", an_update("u-5", type="AddonUpdate"), expected)
    assert eks.update_addon("coredns", "v1.11.4-eksbuild.2", token="drd-addon").id == "u-5"


def test_list_insights_filters_upgrade_readiness_for_the_target_minor(stub: Stubber, eks: EksClient) -> None:
    """ListInsights asks for the UPGRADE_READINESS category and the target minor only."""
    insight = {
        "id": "i-1",
        "name": "Deprecated APIs removed in Kubernetes v1.32",
        "category": "UPGRADE_READINESS",
        "kubernetesVersion": "1.32",
        "lastRefreshTime": WHEN,
        "insightStatus": {"status": "ERROR", "reason": "Deprecated API usage detected within last 30 days."},
    }
    expected = {
        "clusterName": NAME,
        "filter": {"categories": ["UPGRADE_READINESS"], "kubernetesVersions": ["1.32"]},
    }
    stub.add_response("list_insights", {"insights": [insight]}, expected)
    assert eks.list_insights("1.32") == [
        InsightSummary(
            "i-1",
            "Deprecated APIs removed in Kubernetes v1.32",
            "ERROR",
            "Deprecated API usage detected within last 30 days.",
            "",
            "1.32",
            WHEN,
        )
    ]


def test_describe_insight_names_the_clients_calling_a_removed_api(stub: Stubber, eks: EksClient) -> None:
    """DescribeInsight's deprecation details keep the removed API, its replacement and each client's user agent."""
    insight = {
        "id": "i-1",
        "name": "Deprecated APIs removed in Kubernetes v1.32",
        "insightStatus": {"status": "ERROR"},
        "recommendation": "Update manifests and API clients to use newer Kubernetes APIs.",
        "resources": [{"kubernetesResourceUri": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas/x"}],
        "categorySpecificSummary": {
            "deprecationDetails": [
                {
                    "usage": "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
                    "replacedWith": "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
                    "stopServingVersion": "1.32",
                    "clientStats": [
                        {"userAgent": "old-operator/v0.3", "numberOfRequestsLast30Days": 42, "lastRequestTime": WHEN}
                    ],
                }
            ]
        },
    }
    stub.add_response("describe_insight", {"insight": insight}, {"clusterName": NAME, "id": "i-1"})
    found = eks.describe_insight("i-1")
    assert found.resources == ("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas/x",)
    assert found.deprecations == (
        Deprecation(
            "/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas",
            "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas",
            "1.32",
            (ClientStat("old-operator/v0.3", 42, WHEN),),
        ),
    )


def test_readiness_refusal_is_permanent_and_names_the_cluster(stub: Stubber, eks: EksClient) -> None:
    """InvalidStateException (400: readiness insights block the upgrade) is a permanent EksRefused with EKS's text."""
    stub.add_client_error(
        "update_cluster_version",
        service_error_code="InvalidStateException",
        service_message=READINESS,
        http_status_code=400,
    )
    with pytest.raises(EksRefused) as raised:
        eks.update_cluster_version("1.32", token="drd-abc")
    assert isinstance(raised.value, PermanentError)
    assert raised.value.code == "InvalidStateException"
    assert str(raised.value) == (
        'eks cluster "prod-a" (us-east-1): update cluster version to 1.32: InvalidStateException: ' + READINESS
    )


def test_invalid_parameter_is_permanent(stub: Stubber, eks: EksClient) -> None:
    """InvalidParameterException (an unsupported version hop) is a permanent EksRefused."""
    stub.add_client_error(
        "update_cluster_version",
        service_error_code="InvalidParameterException",
        service_message="Unsupported Kubernetes minor version update from 1.31 to 1.33",
        http_status_code=400,
    )
    with pytest.raises(EksRefused, match=r"from 1\.31 to 1\.33"):
        eks.update_cluster_version("1.33", token="drd-abc")


def test_a_missing_node_group_is_not_found(stub: Stubber, eks: EksClient) -> None:
    """ResourceNotFoundException is a permanent EksNotFound naming the action."""
    stub.add_client_error(
        "describe_nodegroup",
        service_error_code="ResourceNotFoundException",
        service_message="No node group found for name: ng-9.",
        http_status_code=404,
    )
    with pytest.raises(EksNotFound, match="describe node group ng-9: ResourceNotFoundException"):
        eks.describe_nodegroup("ng-9")


def test_a_404_without_an_eks_code_is_not_implemented_rather_than_not_found(stub: Stubber, eks: EksClient) -> None:
    """A bare 404 (moto's answer for operations it lacks) is EksNotImplemented, never EksNotFound."""
    stub.add_client_error(
        "describe_update", service_error_code="404", service_message="Not yet implemented", http_status_code=404
    )
    with pytest.raises(EksNotImplemented) as raised:
        eks.describe_update("u-1")
    assert not isinstance(raised.value, EksNotFound)
    assert "does not implement this operation" in str(raised.value)


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 429), ("ServerException", 500), ("ServiceUnavailableException", 503)],
)
def test_throttling_and_server_errors_are_temporary(stub: Stubber, eks: EksClient, code: str, status: int) -> None:
    """Throttling and 5xx are EksUnavailable, a TemporaryError the caller may retry."""
    stub.add_client_error("describe_cluster", service_error_code=code, http_status_code=status)
    with pytest.raises(EksUnavailable) as raised:
        eks.describe_cluster()
    assert isinstance(raised.value, TemporaryError)


def test_a_busy_resource_is_temporary(stub: Stubber, eks: EksClient) -> None:
    """ResourceInUseException (another update in progress) is temporary: it clears when that update ends."""
    stub.add_client_error("update_nodegroup_version", service_error_code="ResourceInUseException", http_status_code=409)
    with pytest.raises(EksUnavailable):
        eks.update_nodegroup_version("ng-1", "1.32", token="t", force=False)


def test_a_refused_connection_is_temporary() -> None:
    """No EKS endpoint listening is EksUnavailable naming the cluster, not a botocore exception."""
    client = boto_eks(f"http://127.0.0.1:{closed_port()}", retries={"max_attempts": 1}, connect_timeout=1)
    eks = EksClient(NAME, region="us-east-1", client=client)
    with pytest.raises(EksUnavailable, match=r'eks cluster "prod-a" \(us-east-1\): describe cluster: unreachable'):
        eks.describe_cluster()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
