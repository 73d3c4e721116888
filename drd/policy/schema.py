"""One JSON Schema for every document kind, for editors (yaml-language-server) and CI (``drd policies schema``).

Each kind's schema comes from its pydantic model (YAML names, field
docstrings as descriptions); the document is ``oneOf`` the kinds, with shared
definitions under ``$defs``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from drd.policy import registry
from drd.policy.durations import format_duration
from drd.policy.models.base import API_VERSION

SCHEMA_ID = "https://drd.dev/schemas/v1/policy.json"


class _Generator(GenerateJsonSchema):
    """Writes duration defaults as policies do (``30d``), not as ISO 8601 (``P30D``)."""

    def encode_default(self, dft: Any) -> Any:
        return format_duration(dft) if isinstance(dft, timedelta) else super().encode_default(dft)


def json_schema(*, kinds: registry.Registry | None = None) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy document of any registered kind."""
    models = [spec.model for spec in (kinds or registry.DEFAULT).specs]
    refs, top = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/$defs/{model}", schema_generator=_Generator
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"drd policy document ({API_VERSION})",
        "description": "One YAML document of a kind drd accepts: " + ", ".join(model.kind_name() for model in models),
        "oneOf": [refs[(model, "validation")] for model in models],
        "$defs": top.get("$defs", {}),
    }
