"""The JSON Schema of a Runbook document, for editors (yaml-language-server) and CI.

It comes from the pydantic models (YAML names, field docstrings as
descriptions), with each step's ``with`` typed by its step type (``if type
is velero.restore then with is …``). Any input may instead be a string
holding ``${{ }}``, since expressions are typed only when rendered. Lint
checks more than the schema can (references, ordering, retries).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from drd.policy.durations import format_duration
from drd.runbooks.spec.catalog import CATALOG
from drd.runbooks.spec.models import Runbook

SCHEMA_ID = "https://drd.dev/schemas/v1/runbook.json"
EXPRESSION: dict[str, Any] = {"type": "string", "pattern": r"\$\{\{"}
"""A string holding an expression: accepted wherever an input is expected."""


class _Generator(GenerateJsonSchema):
    """Writes duration defaults as runbooks do (``2h``), not as ISO 8601 (``PT2H``)."""

    def encode_default(self, dft: Any) -> Any:
        return format_duration(dft) if isinstance(dft, timedelta) else super().encode_default(dft)


def runbook_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``kind: Runbook`` document."""
    models = [(Runbook, "validation")] + [(item.inputs, "validation") for item in CATALOG.values()]
    refs, top = models_json_schema(models, ref_template="#/$defs/{model}", schema_generator=_Generator)  # type: ignore[arg-type]
    definitions: dict[str, Any] = top.get("$defs", {})
    inputs = {name: refs[(item.inputs, "validation")]["$ref"].rsplit("/", 1)[-1] for name, item in CATALOG.items()}
    for name in set(inputs.values()):
        definitions[name] = _loosen(definitions[name])
    for model in ("Step", "Compensation"):
        definition = definitions[model]
        definition["properties"]["type"] = {
            "enum": sorted(CATALOG),
            "description": definition["properties"]["type"].get("description", ""),
        }
        definition["allOf"] = [
            {
                "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                "then": {"properties": {"with": {"$ref": f"#/$defs/{inputs[name]}"}}},
            }
            for name in sorted(CATALOG)
        ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "drd Runbook (drd.dev/v1)",
        "$ref": refs[(Runbook, "validation")]["$ref"],
        "$defs": definitions,
    }


def _loosen(schema: Any) -> Any:
    """An input model's schema where every value may also be a string holding an expression."""
    if not isinstance(schema, dict):
        return schema
    result = {key: value for key, value in schema.items() if key != "propertyNames"}
    if isinstance(result.get("properties"), dict):
        result["properties"] = {key: _either(value) for key, value in result["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(result.get(key), dict):
            result[key] = _either(result[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(result.get(key), list):
            result[key] = [_loosen(item) for item in result[key]]
    return result


def _either(schema: dict[str, Any]) -> dict[str, Any]:
    loosened = _loosen(schema)
    described = {key: loosened.pop(key) for key in ("description", "default", "title") if key in loosened}
    return {"anyOf": [loosened, EXPRESSION], **described}
