"""Kubernetes label selectors: ``matchLabels`` plus ``matchExpressions``, validated and evaluated like the API server.

Keys and values are checked at load (qualified label keys, 63-character
values); ``In``/``NotIn`` need values, ``Exists``/``DoesNotExist`` must have
none. :meth:`LabelSelector.matches` evaluates a selector against an object's
labels, :meth:`LabelSelector.to_kubernetes` renders the API form, and
:meth:`LabelSelector.to_selector_string` the ``?labelSelector=`` query form.
An empty selector matches everything, as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from drd.policy.frozen import FrozenMap
from drd.policy.locations import Loc
from drd.policy.models.base import Model, raise_violations
from drd.policy.names import LabelKey, Labels, LabelValue


class Operator(StrEnum):
    """A ``matchExpressions`` operator."""

    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class Requirement(Model):
    """One ``matchExpressions`` entry: ``key``, ``operator`` and (for In/NotIn) ``values``."""

    key: LabelKey
    """The label key the requirement tests."""
    operator: Operator
    """In, NotIn, Exists or DoesNotExist."""
    values: tuple[LabelValue, ...] = ()
    """Candidate values: required for In and NotIn, forbidden for Exists and DoesNotExist."""

    @model_validator(mode="after")
    def _values_fit_operator(self) -> Requirement:
        violations: list[tuple[Loc, str, Any]] = []
        if self.operator in (Operator.IN, Operator.NOT_IN) and not self.values:
            violations.append((("values",), f"operator {self.operator} needs at least one value", list(self.values)))
        if self.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and self.values:
            violations.append((("values",), f"operator {self.operator} takes no values", list(self.values)))
        raise_violations(self, violations)
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with ``labels`` satisfies this requirement."""
        match self.operator:
            case Operator.IN:
                return self.key in labels and labels[self.key] in self.values
            case Operator.NOT_IN:
                return self.key not in labels or labels[self.key] not in self.values
            case Operator.EXISTS:
                return self.key in labels
            case Operator.DOES_NOT_EXIST:
                return self.key not in labels

    def to_kubernetes(self) -> dict[str, Any]:
        """The ``matchExpressions`` item as the Kubernetes API takes it."""
        item: dict[str, Any] = {"key": self.key, "operator": str(self.operator)}
        if self.values:
            item["values"] = list(self.values)
        return item

    def __str__(self) -> str:
        values = ",".join(sorted(self.values))
        match self.operator:
            case Operator.IN:
                return f"{self.key} in ({values})"
            case Operator.NOT_IN:
                return f"{self.key} notin ({values})"
            case Operator.EXISTS:
                return self.key
            case Operator.DOES_NOT_EXIST:
                return f"!{self.key}"


class LabelSelector(Model):
    """A Kubernetes label selector; every condition must hold. Empty matches everything."""

    match_labels: Labels = Field(default_factory=FrozenMap)
    """Labels that must be present with exactly these values."""
    match_expressions: tuple[Requirement, ...] = ()
    """Further requirements, all of which must hold."""

    @property
    def is_empty(self) -> bool:
        """The selector has no conditions, so it matches every object."""
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with ``labels`` is selected."""
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )

    def to_kubernetes(self) -> dict[str, Any]:
        """The selector as the Kubernetes API (and Velero's ``labelSelector``) takes it; empty parts are omitted."""
        result: dict[str, Any] = {}
        if self.match_labels:
            result["matchLabels"] = dict(self.match_labels)
        if self.match_expressions:
            result["matchExpressions"] = [requirement.to_kubernetes() for requirement in self.match_expressions]
        return result

    def to_selector_string(self) -> str:
        """The query form, ``app=shop,tier in (db,web),!legacy``, ordered by key like ``kubectl`` prints it."""
        terms = [(key, f"{key}={value}") for key, value in self.match_labels.items()]
        terms += [(requirement.key, str(requirement)) for requirement in self.match_expressions]
        return ",".join(text for _, text in sorted(terms, key=lambda term: term[0]))
