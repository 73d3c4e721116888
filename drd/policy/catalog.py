"""What cross-document checks see (a :class:`Catalog` of valid documents) and what they say (:class:`Finding`).

Checks are pure functions ``(document, catalog) -> findings``. A finding
carries a path inside the document it is about; the loader turns it into a
located :class:`~drd.errors.Problem`. Warnings do not fail loading; errors do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from drd.policy.frozen import FrozenMap
from drd.policy.locations import Loc
from drd.policy.models.base import Document

D = TypeVar("D", bound=Document)


class Severity(StrEnum):
    """Errors make loading fail; warnings are returned with the configuration."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """Something a cross-document check found, at ``path`` inside the checked document."""

    path: Loc
    message: str
    severity: Severity = Severity.ERROR


def error(path: Loc, message: str) -> Finding:
    """A finding that makes loading fail."""
    return Finding(path, message, Severity.ERROR)


def warning(path: Loc, message: str) -> Finding:
    """A finding reported alongside a configuration that still loads."""
    return Finding(path, message, Severity.WARNING)


def select(documents: Mapping[str, Mapping[str, Document]], model: type[D]) -> Mapping[str, D]:
    """The documents of ``model``'s kind, by name."""
    found = documents.get(model.kind_name(), {})
    return FrozenMap({name: document for name, document in found.items() if isinstance(document, model)})


@dataclass(frozen=True)
class Catalog:
    """Every valid document by kind and name, and the names of documents that failed validation."""

    documents: Mapping[str, Mapping[str, Document]]
    invalid: frozenset[tuple[str, str]] = frozenset()
    """``(kind, name)`` of documents that failed validation: references to them are not reported again."""

    def of_kind(self, model: type[D]) -> Mapping[str, D]:
        """The valid documents of ``model``'s kind, by name."""
        return select(self.documents, model)

    def get(self, model: type[D], name: str) -> D | None:
        """The valid document of ``model``'s kind called ``name``, if any."""
        return self.of_kind(model).get(name)

    def is_invalid(self, model: type[Document], name: str) -> bool:
        """A document of ``model``'s kind called ``name`` exists but failed validation."""
        return (model.kind_name(), name) in self.invalid
