"""The RotationPolicy document: what loading accepts and the located errors it gives.

Aspects covered: a valid policy of each source loads; velero-repo-credentials is refused as a target, saying
why; a delivered key must name a field the source offers; clusters of deliveries and consumers must be in the
inventory; the examples in policies/ are accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drd.policy.models.rotation import RotationPolicy
from tests.policy.builders import API, an_inventory, load, messages, write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "policies", "clusters.yaml", *an_inventory())
    return Path("policies")


def a_rotation(**spec: Any) -> dict[str, Any]:
    body = {
        "source": {"type": "generated"},
        "vault": {"path": "drd/shop/token"},
        "deliver": [{"clusters": ["primary-east"], "namespace": "shop", "secret": "token", "keys": {"t": "value"}}],
    } | spec
    return {"apiVersion": API, "kind": "RotationPolicy", "metadata": {"name": "token"}, "spec": body}


@pytest.mark.parametrize(
    ("source", "keys"),
    [
        ({"type": "generated", "length": 64, "alphabet": "hex"}, {"t": "value"}),
        ({"type": "iamAccessKey", "user": "velero"}, {"cloud": "awsCredentials"}),
        (
            {"type": "databaseStaticRole", "role": "shop-app", "login": {"host": "db", "database": "shop"}},
            {"username": "username", "password": "password"},
        ),
    ],
)
def test_a_policy_of_each_source_loads(policies: Path, source: dict[str, Any], keys: dict[str, str]) -> None:
    """Generated values, IAM access keys and database static roles are accepted with their own fields."""
    deliver = [{"clusters": ["primary-east"], "namespace": "shop", "secret": "token", "keys": keys}]
    write(policies, "rotation.yaml", a_rotation(source=source, deliver=deliver))
    policy = load(policies).of_kind(RotationPolicy)["token"]
    assert policy.spec.source.type == source["type"]


def test_velero_repo_credentials_is_never_a_target(policies: Path) -> None:
    """The repository key is refused at load, with the reason and what drd does instead."""
    deliver = [
        {
            "clusters": ["primary-east"],
            "namespace": "velero",
            "secret": "velero-repo-credentials",
            "keys": {"k": "value"},
        }
    ]
    write(policies, "rotation.yaml", a_rotation(deliver=deliver))
    (message,) = messages(policies)
    assert "spec.deliver[0].secret" in message
    assert "never rotated" in message
    assert "escrow" in message


def test_a_delivered_key_must_be_a_field_of_the_source(policies: Path) -> None:
    """A generated value has no password: the key is named with the fields the source offers."""
    deliver = [{"clusters": ["primary-east"], "namespace": "shop", "secret": "token", "keys": {"pw": "password"}}]
    write(policies, "rotation.yaml", a_rotation(deliver=deliver))
    (message,) = messages(policies)
    assert "spec.deliver[0].keys.pw" in message
    assert "it offers: value" in message


def test_clusters_must_be_in_the_inventory(policies: Path) -> None:
    """A delivery and a consumer naming an unknown cluster are each located errors listing the known ones."""
    deliver = [{"clusters": ["nowhere"], "namespace": "shop", "secret": "token", "keys": {"t": "value"}}]
    consumers = [{"clusters": ["elsewhere"], "namespace": "shop", "kind": "Deployment", "name": "web"}]
    write(policies, "rotation.yaml", a_rotation(deliver=deliver, consumers=consumers))
    found = messages(policies)
    assert any("spec.deliver[0].clusters[0]" in m and '"nowhere"' in m for m in found)
    assert any("spec.consumers[0].clusters[0]" in m and '"elsewhere"' in m for m in found)


def test_the_example_policies_are_accepted() -> None:
    """policies/rotation.yaml loads with the example inventory."""
    rotations = load(REPO / "policies").of_kind(RotationPolicy)
    assert sorted(rotations) == ["shop-payments-token", "velero-cloud-credentials"]
