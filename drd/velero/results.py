"""Velero's results files: ``{"warnings": R, "errors": R}`` with R = {velero, cluster, namespaces} (§2.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """Messages of one severity, grouped as Velero groups them."""

    velero: list[str] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)
    namespaces: dict[str, list[str]] = field(default_factory=dict)

    def add(self, message: str, *, namespace: str | None = None) -> None:
        """Record a message against a namespace, or the cluster when there is none."""
        if namespace:
            self.namespaces.setdefault(namespace, []).append(message)
        else:
            self.cluster.append(message)

    def count(self) -> int:
        """How many messages (what Velero reports as status.warnings / status.errors)."""
        return len(self.velero) + len(self.cluster) + sum(len(v) for v in self.namespaces.values())

    def to_json(self) -> dict[str, Any]:
        """The omitempty JSON form."""
        data: dict[str, Any] = {}
        if self.velero:
            data["velero"] = list(self.velero)
        if self.cluster:
            data["cluster"] = list(self.cluster)
        if self.namespaces:
            data["namespaces"] = {k: list(v) for k, v in sorted(self.namespaces.items())}
        return data

    @classmethod
    def from_json(cls, data: Any) -> Result:
        """Parse leniently: unknown shapes become empty lists."""
        if not isinstance(data, dict):
            return cls()
        namespaces = data.get("namespaces") if isinstance(data.get("namespaces"), dict) else {}
        return cls(
            velero=[str(m) for m in data.get("velero") or []],
            cluster=[str(m) for m in data.get("cluster") or []],
            namespaces={str(k): [str(m) for m in v or []] for k, v in (namespaces or {}).items()},
        )


@dataclass
class Results:
    """Warnings and errors of one backup or restore."""

    warnings: Result = field(default_factory=Result)
    errors: Result = field(default_factory=Result)

    def to_json(self) -> dict[str, Any]:
        return {"warnings": self.warnings.to_json(), "errors": self.errors.to_json()}

    @classmethod
    def from_json(cls, data: Any) -> Results:
        data = data if isinstance(data, dict) else {}
        return cls(warnings=Result.from_json(data.get("warnings")), errors=Result.from_json(data.get("errors")))
