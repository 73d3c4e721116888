"""The EKS adapter over real HTTP, against moto's server, for the operations moto implements.

Aspects: the adapter finds the endpoint through ``AWS_ENDPOINT_URL`` as boto3
does, reads a cluster and its node groups in the cluster's region, a missing
cluster is EksNotFound, and an operation moto lacks (``UpdateClusterVersion``:
a 404 HTML page) is a clear, permanent EksNotImplemented naming the cluster.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from drd.clients.eks import EksClient, EksCluster, EksNotFound, EksNotImplemented
from drd.sandbox.s3 import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, MotoS3

REGION = "eu-west-1"


@pytest.fixture
def aws(moto: MotoS3, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The environment points boto3 at moto; returns a plain boto3 EKS client to arrange clusters with."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET_KEY)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return boto3.client("eks", region_name=REGION)


def a_cluster(aws: Any, name: str = "prod-a", version: str = "1.31", groups: dict[str, str] | None = None) -> None:
    """An EKS cluster in moto with managed node groups ``{name: version}``."""
    role = "arn:aws:iam::123456789012:role/eks"
    aws.create_cluster(name=name, version=version, roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    for group, group_version in (groups or {}).items():
        aws.create_nodegroup(
            clusterName=name, nodegroupName=group, nodeRole=role, subnets=["subnet-1"], version=group_version
        )


def test_the_adapter_reads_a_cluster_over_http(aws: Any) -> None:
    """DescribeCluster over HTTP, endpoint from AWS_ENDPOINT_URL, in the cluster's region."""
    a_cluster(aws)
    found = EksClient("prod-a", region=REGION).describe_cluster()
    assert (found.name, found.version, found.status) == ("prod-a", "1.31", "ACTIVE")
    assert isinstance(found, EksCluster)


def test_the_adapter_lists_and_describes_node_groups_over_http(aws: Any) -> None:
    """ListNodegroups and DescribeNodegroup give every managed group with its minor."""
    a_cluster(aws, groups={"ng-1": "1.31", "ng-2": "1.30"})
    eks = EksClient("prod-a", region=REGION)
    assert {name: eks.describe_nodegroup(name).version for name in eks.list_nodegroups()} == {
        "ng-1": "1.31",
        "ng-2": "1.30",
    }


def test_a_cluster_in_another_region_is_not_found(aws: Any) -> None:
    """The adapter asks the cluster's own region: a cluster created elsewhere is EksNotFound, naming both."""
    a_cluster(aws)
    with pytest.raises(EksNotFound, match=r'eks cluster "prod-a" \(us-east-1\): describe cluster'):
        EksClient("prod-a", region="us-east-1").describe_cluster()


def test_an_operation_moto_lacks_is_a_clear_permanent_error(aws: Any) -> None:
    """UpdateClusterVersion, absent from moto, is EksNotImplemented naming cluster and action, no HTML in it."""
    a_cluster(aws)
    with pytest.raises(EksNotImplemented) as raised:
        EksClient("prod-a", region=REGION).update_cluster_version("1.32", token="drd-x")
    message = str(raised.value)
    assert message.startswith('eks cluster "prod-a" (eu-west-1): update cluster version to 1.32: 404:')
    assert "does not implement this operation" in message
    assert "<" not in message
