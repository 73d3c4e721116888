"""Symbolic values for dry runs: what a step that did not run would have produced.

A dry run does not execute mutating steps, so their outputs are not known.
The engine puts an :class:`Unknown` where such a value would be; rendering a
template that reads one yields an :class:`Unknown` too instead of failing, so
the plan can say "depends on unknown: steps.restore.outputs.name".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value that is not known yet; ``description`` says which (``steps.restore.outputs.name``)."""

    description: str

    def __str__(self) -> str:
        return f"<unknown: {self.description}>"


def unknowns(value: Any) -> Iterator[Unknown]:
    """Every :class:`Unknown` inside ``value`` (mappings, lists and tuples are searched)."""
    if isinstance(value, Unknown):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from unknowns(key)
            yield from unknowns(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from unknowns(item)


def contains_unknown(value: Any) -> bool:
    """Whether ``value`` is, or holds, an :class:`Unknown`."""
    return next(unknowns(value), None) is not None


def combine(found: list[Unknown]) -> Unknown:
    """One :class:`Unknown` standing for several: their descriptions, once each, in order."""
    descriptions = list(dict.fromkeys(item.description for item in found))
    return found[0] if len(descriptions) == 1 else Unknown(", ".join(descriptions))
