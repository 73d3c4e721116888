"""The JSON Schema of a Runbook, for editors and CI."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from drd.runbooks.spec.catalog import CATALOG
from drd.runbooks.spec.schema import runbook_json_schema

from .builders import a_runbook, a_step


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = runbook_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def test_the_schema_is_plain_json_with_yaml_names_and_descriptions() -> None:
    """camelCase names, field docstrings as descriptions, durations written as runbooks write them."""
    schema = runbook_json_schema()
    assert json.loads(json.dumps(schema)) == schema
    spec = schema["$defs"]["RunbookSpec"]["properties"]
    assert (spec["timeout"]["default"], "onFailure" in spec, "finally" in spec) == ("2h", True, True)
    assert spec["steps"]["description"] == "What the run does, in order."


def test_step_types_are_an_enum_and_select_the_inputs(validator: jsonschema.Draft202012Validator) -> None:
    """An unknown type, or an input its type does not take, is flagged by the editor."""
    assert errors(validator, a_runbook(steps=[a_step(step_type="nope")]))[0].startswith("'nope' is not one of")
    unknown_input = a_step(**{"with": {"cluster": "dr-west", "policy": "shop", "polcy": "x"}})
    assert "Additional properties are not allowed ('polcy' was unexpected)" in errors(
        validator, a_runbook(steps=[unknown_input])
    )
    assert len(runbook_json_schema()["$defs"]["Step"]["allOf"]) == len(CATALOG)


def test_any_input_may_be_an_expression(validator: jsonschema.Draft202012Validator) -> None:
    """Expressions are typed when rendered, so the schema accepts them wherever an input goes."""
    step = a_step("scale", "k8s.scale", **{"with": {"cluster": "${{ params.c }}", "namespace": "shop",
                                                    "kind": "Deployment", "replicas": "${{ params.n }}"}})  # fmt: skip
    assert errors(validator, a_runbook(steps=[step])) == []
    step["with"]["replicas"] = "three"
    assert errors(validator, a_runbook(steps=[step])) != []
