"""Label selectors: parsing and validating like Kubernetes, evaluating against labels, rendering both API forms."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from drd.policy.selectors import LabelSelector


def selector(data: dict[str, Any]) -> LabelSelector:
    """A selector validated from YAML-shaped data, as the loader validates it."""
    return LabelSelector.model_validate(data, by_alias=True, by_name=False)


VALID = [
    pytest.param({}, "", id="empty"),
    pytest.param({"matchLabels": {"app": "shop"}}, "app=shop", id="one label"),
    pytest.param({"matchLabels": {"app.kubernetes.io/name": "shop"}}, "app.kubernetes.io/name=shop", id="prefixed key"),
    pytest.param({"matchLabels": {"tier": ""}}, "tier=", id="empty value"),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "db"]}]},
        "tier in (db,web)",
        id="in, values sorted",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}]},
        "tier notin (batch)",
        id="notin",
    ),
    pytest.param({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}, "canary", id="exists"),
    pytest.param({"matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]}, "!legacy", id="does not exist"),
    pytest.param(
        {"matchLabels": {"b": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
        "a,b=1",
        id="ordered by key",
    ),
]

INVALID = [
    pytest.param({"matchLabels": {"Bad Key": "x"}}, 'label key "Bad Key" is not valid', id="space in key"),
    pytest.param({"matchLabels": {"-app": "x"}}, 'label key "-app" is not valid', id="key starts with dash"),
    pytest.param({"matchLabels": {"a" * 64: "x"}}, "is not valid: use [prefix/]name", id="key name too long"),
    pytest.param(
        {"matchLabels": {"Ex_ample.com/app": "x"}}, 'prefix "Ex_ample.com" is not a DNS subdomain', id="bad prefix"
    ),
    pytest.param({"matchLabels": {"app": "no way"}}, '"no way" is not a valid label value', id="space in value"),
    pytest.param({"matchLabels": {"app": "x" * 64}}, "is not a valid label value: at most 63", id="value too long"),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "In"}]},
        "operator In needs at least one value",
        id="in without values",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["x"]}]},
        "operator Exists takes no values",
        id="exists with values",
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "Equals", "values": ["x"]}]},
        "Input should be 'In', 'NotIn', 'Exists' or 'DoesNotExist'",
        id="unknown operator",
    ),
    pytest.param({"matchLabel": {"app": "x"}}, "Extra inputs are not permitted", id="unknown field"),
]


@pytest.mark.parametrize(("data", "text"), VALID)
def test_accepts_kubernetes_selectors(data: dict[str, Any], text: str) -> None:
    """Valid selectors load and render the query form kubectl prints."""
    assert selector(data).to_selector_string() == text


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_refuses_what_kubernetes_refuses(data: dict[str, Any], message: str) -> None:
    """Keys, values and operators are validated at load, with the accepted form in the message."""
    with pytest.raises(ValidationError) as raised:
        selector(data)
    assert message in str(raised.value)


SHOP = {"app": "shop", "tier": "web"}

MATCHES = [
    pytest.param({}, SHOP, True, id="empty selects everything"),
    pytest.param({"matchLabels": {"app": "shop"}}, SHOP, True, id="label equal"),
    pytest.param({"matchLabels": {"app": "blog"}}, SHOP, False, id="label differs"),
    pytest.param({"matchLabels": {"team": "x"}}, SHOP, False, id="label missing"),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "db"]}]}, SHOP, True, id="in"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}, SHOP, False, id="not in set"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}, SHOP, False, id="in, key missing"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}, SHOP, True, id="notin"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]},
        SHOP,
        True,
        id="notin, key missing",
    ),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, SHOP, True, id="exists"),
    pytest.param({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, SHOP, False, id="does not exist"),
    pytest.param(
        {"matchLabels": {"app": "shop"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]},
        SHOP,
        False,
        id="every condition must hold",
    ),
]


@pytest.mark.parametrize(("data", "labels", "expected"), MATCHES)
def test_matches_like_the_api_server(data: dict[str, Any], labels: dict[str, str], expected: bool) -> None:
    """matches() follows Kubernetes' semantics for each operator."""
    assert selector(data).matches(labels) is expected


def test_renders_the_api_form() -> None:
    """to_kubernetes() gives what the API (and Velero's labelSelector) takes, without empty parts."""
    data = {"matchLabels": {"app": "shop"}, "matchExpressions": [{"key": "legacy", "operator": "DoesNotExist"}]}
    assert selector(data).to_kubernetes() == data
    assert selector({}).to_kubernetes() == {}


def test_match_labels_cannot_be_changed() -> None:
    """A loaded selector is immutable, down to its label map."""
    loaded = selector({"matchLabels": {"app": "shop"}})
    with pytest.raises(TypeError):
        loaded.match_labels["app"] = "blog"  # type: ignore[index]
