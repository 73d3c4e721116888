"""The kinds the loader accepts: a registry of ``kind`` → model and cross-document check.

Adding a kind is registering it, not editing the loader::

    from drd.policy import registry
    registry.DEFAULT.register(registry.KindSpec(Runbook, check_runbook))

A package registers its kinds when it is imported, so import it before
loading. Tests build their own :class:`Registry` instead of touching
:data:`DEFAULT`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from drd.policy import validate
from drd.policy.catalog import Catalog, Finding
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.base import Document
from drd.policy.models.cluster import Cluster
from drd.policy.models.drill import DrillPolicy
from drd.policy.models.rotation import RotationPolicy, check_rotation_policy
from drd.policy.models.upgrade import UpgradePlan, check_upgrade_plan

Check = Callable[[Any, Catalog], Iterable[Finding]]
"""A cross-document check: given a valid document of its kind and every valid document, what is wrong."""


def no_check(document: Document, catalog: Catalog) -> Iterable[Finding]:
    """For kinds that refer to no other document."""
    return ()


@dataclass(frozen=True)
class KindSpec:
    """One accepted kind: the model a document validates against and its cross-document check."""

    model: type[Document]
    check: Check = no_check

    @property
    def kind(self) -> str:
        """The ``kind`` value, read from the model."""
        return self.model.kind_name()


class Registry:
    """Kinds by name."""

    def __init__(self, specs: Iterable[KindSpec] = ()) -> None:
        self._specs: dict[str, KindSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: KindSpec) -> None:
        """Accept ``spec.kind`` from now on; registering a kind twice is a programming error."""
        if spec.kind in self._specs:
            raise ValueError(f"kind {spec.kind} is already registered")
        self._specs[spec.kind] = spec

    def get(self, kind: str) -> KindSpec | None:
        """The spec for ``kind``, if registered."""
        return self._specs.get(kind)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every registered kind, sorted."""
        return tuple(sorted(self._specs))

    @property
    def specs(self) -> tuple[KindSpec, ...]:
        """Every registered spec, sorted by kind."""
        return tuple(self._specs[kind] for kind in self.kinds)


def builtin() -> Registry:
    """A registry of the kinds drd.policy defines: Cluster, BackupPolicy, DrillPolicy, UpgradePlan, RotationPolicy."""
    return Registry(
        [
            KindSpec(Cluster, validate.check_cluster),
            KindSpec(BackupPolicy, validate.check_backup_policy),
            KindSpec(DrillPolicy, validate.check_drill_policy),
            KindSpec(UpgradePlan, check_upgrade_plan),
            KindSpec(RotationPolicy, check_rotation_policy),
        ]
    )


DEFAULT = builtin()
"""The registry :func:`drd.policy.loader.load_config` and :func:`drd.policy.schema.json_schema` use by default."""
