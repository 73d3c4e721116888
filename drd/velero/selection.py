"""Which objects a Backup or Restore spec selects (velero.md §1.1, §1.2): namespaces, resources, labels."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def matches_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """metav1.LabelSelector semantics: matchLabels AND every matchExpression; an empty selector matches all."""
    if not selector:
        return True
    labels = labels or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    return all(_expression_holds(e, labels) for e in selector.get("matchExpressions") or [])


def _expression_holds(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key = expression.get("key", "")
    values = set(expression.get("values") or [])
    present = key in labels
    return {
        "In": present and labels.get(key) in values,
        "NotIn": not present or labels[key] not in values,
        "Exists": present,
        "DoesNotExist": not present,
    }.get(str(expression.get("operator", "")), False)


def matches_any_selector(selectors: Sequence[Mapping[str, Any]], labels: Mapping[str, str] | None) -> bool:
    """``orLabelSelectors``: at least one selector matches."""
    return any(matches_label_selector(s, labels) for s in selectors)


class NamespaceFilter:
    """includedNamespaces / excludedNamespaces with v1.18 globs; empty include means all (``*``)."""

    def __init__(self, included: Iterable[str] | None, excluded: Iterable[str] | None) -> None:
        self.included = list(included or []) or ["*"]
        self.excluded = list(excluded or [])

    @property
    def all_namespaces(self) -> bool:
        """True when every namespace is included (cluster-scoped resources then come by default)."""
        return self.included == ["*"] and not self.excluded

    def matches(self, namespace: str) -> bool:
        if any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.excluded):
            return False
        return any(fnmatch.fnmatchcase(namespace, pattern) for pattern in self.included)


class ResourceFilter:
    """includedResources / excludedResources; entries name a plural, ``plural.group`` or kind, or ``*``."""

    def __init__(self, included: Iterable[str] | None, excluded: Iterable[str] | None) -> None:
        self.included = [r.lower() for r in included or []] or ["*"]
        self.excluded = [r.lower() for r in excluded or []]

    def matches(self, *, plural: str, group: str, kind: str) -> bool:
        names = {plural, f"{plural}.{group}" if group else plural, kind.lower()}
        if any(entry in names for entry in self.excluded):
            return False
        return "*" in self.included or any(entry in names for entry in self.included)


def overlapping_namespaces(included: Iterable[str] | None, excluded: Iterable[str] | None) -> list[str]:
    """Namespaces listed both as included and excluded (a validation error in Velero)."""
    return sorted(set(included or []) & set(excluded or []))
