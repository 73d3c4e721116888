"""The JSON Schema of every document kind, for editors and CI."""

from __future__ import annotations

import json
from typing import Any

from drd.policy.schema import json_schema


def definition(name: str) -> dict[str, Any]:
    """One entry of the schema's ``$defs``."""
    found: dict[str, Any] = json_schema()["$defs"][name]
    return found


def test_a_document_is_one_of_the_kinds() -> None:
    """The top level is oneOf the registered kinds, each a reference into $defs, and it is plain JSON."""
    schema = json_schema()
    assert schema["oneOf"] == [
        {"$ref": f"#/$defs/{kind}"}
        for kind in ("BackupPolicy", "Cluster", "DrillPolicy", "RotationPolicy", "UpgradePlan")
    ]
    assert json.loads(json.dumps(schema)) == schema


def test_each_kind_requires_the_kubernetes_shape() -> None:
    """apiVersion, kind, metadata and spec are required; kind is a constant; unknown fields are refused."""
    for kind in ("BackupPolicy", "Cluster", "DrillPolicy", "RotationPolicy", "UpgradePlan"):
        found = definition(kind)
        assert set(found["required"]) == {"apiVersion", "kind", "metadata", "spec"}
        assert (found["properties"]["kind"]["const"], found["additionalProperties"]) == (kind, False)


def test_fields_use_yaml_names_docstrings_and_policy_defaults() -> None:
    """camelCase names, descriptions from attribute docstrings, durations written as policies write them."""
    ttl = definition("BackupPolicySpec")["properties"]["ttl"]
    assert (ttl["default"], ttl["type"]) == ("30d", "string")
    assert ttl["description"].startswith("How long Velero keeps each backup")
    assert "countPartiallyFailed" in definition("BackupPolicySpec")["properties"]


def test_checks_are_discriminated_by_type() -> None:
    """Editors can tell checks apart by their type field."""
    items = definition("DrillPolicySpec")["properties"]["verify"]["items"]
    assert sorted(items["discriminator"]["mapping"]) == [
        "exec", "http", "job", "objectsPresent", "resourceExists", "tcp", "workloadsReady",
    ]  # fmt: skip
