"""The example documents in policies/ load cleanly, and docs/policies.md names every field they may use."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel

from drd.policy.models.backup import BackupPolicy
from drd.policy.models.cluster import Cluster
from drd.policy.models.drill import DrillPolicy

from .builders import load

ROOT = Path(__file__).parents[2]


def test_the_examples_load_without_warnings() -> None:
    """CI runs ``drd policies validate policies/``; the examples must pass it silently."""
    config = load(ROOT / "policies")
    assert config.warnings == ()
    assert (sorted(config.clusters), sorted(config.backup_policies), sorted(config.drill_policies)) == (
        ["canary-east", "dr-west", "primary-east"],
        ["catalog-api", "shop"],
        ["catalog-api-weekly", "shop-nightly"],
    )


def fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    """Every YAML field name reachable from ``model``."""
    if model in seen:
        return set()
    seen.add(model)
    names = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        for nested in _models_in(info.annotation):
            names |= fields(nested, seen)
    return names


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def test_the_reference_page_names_every_field() -> None:
    """docs/policies.md keeps up with the models: each field appears in code, alone or in a dotted path."""
    page = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    fenced = re.findall(r"```.*?```", page, flags=re.DOTALL)
    inline = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", page, flags=re.DOTALL))
    mentioned = {word for span in fenced + inline for word in re.findall(r"[A-Za-z]+", span)}
    seen: set[type[BaseModel]] = set()
    every = fields(Cluster, seen) | fields(BackupPolicy, seen) | fields(DrillPolicy, seen)
    assert sorted(every - mentioned) == []
