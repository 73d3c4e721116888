"""What every policy document shares: the model configuration, ``metadata``, and rule violations with a location.

YAML keys are camelCase (``storageLocation``), Python attributes snake_case
(``storage_location``). The loader validates by alias only, so a snake_case key
in a file is an unknown field; Python code may construct models by either name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from drd.policy.frozen import FrozenMap
from drd.policy.locations import Loc
from drd.policy.names import Labels, Name
from drd.policy.schedule import Schedule, ScheduleField, TimezoneField

API_VERSION = "drd.dev/v1"


class Model(BaseModel):
    """Immutable, strict about unknown fields, camelCase in YAML, attribute docstrings become field descriptions."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        use_attribute_docstrings=True,
    )


class Metadata(Model):
    """Identity of a document, as in Kubernetes."""

    name: Name
    """Unique among documents of the same kind; used in metrics labels and Kubernetes object names."""
    labels: Labels = Field(default_factory=FrozenMap)
    """Free-form labels for selecting and grouping documents."""


class Document(Model):
    """A versioned document: ``apiVersion``, ``kind``, ``metadata``, ``spec``; subclasses narrow ``kind``."""

    api_version: Literal["drd.dev/v1"]
    """Always ``drd.dev/v1``."""
    kind: str
    """The document kind."""
    metadata: Metadata

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self.metadata.name

    @classmethod
    def kind_name(cls) -> str:
        """The value of ``kind`` this class accepts, read from its Literal annotation."""
        (kind,) = get_args(cls.model_fields["kind"].annotation)
        return str(kind)


class Scheduled(Model):
    """The fields of a spec that runs on a schedule. ``timezone`` comes first so the schedule can use it."""

    timezone: TimezoneField | None = None
    """IANA time zone the cron fields are read in (``Europe/Berlin``); default UTC; not used with ``@every``."""
    schedule: ScheduleField
    """When to run: cron (``"0 3 * * *"``), a macro (``@daily``) or an interval (``"@every 6h"``)."""

    @field_validator("schedule", mode="after")
    @classmethod
    def _apply_timezone(cls, schedule: Schedule, info: ValidationInfo) -> Schedule:
        zone = info.data.get("timezone")
        return schedule if zone is None else schedule.with_timezone(zone)


def raise_violations(model: BaseModel, violations: Iterable[tuple[Loc, str, Any]]) -> None:
    """Raise every ``(location, message, value)`` found by a model validator, located relative to ``model``.

    Locations use YAML (camelCase) names. Pydantic prefixes them with the
    model's own location, so ``("objectives", "rpo")`` raised by a spec
    becomes ``spec.objectives.rpo`` with that key's line.
    """
    details = [
        InitErrorDetails(type=PydanticCustomError("policy_rule", "{reason}", {"reason": message}), loc=loc, input=value)
        for loc, message, value in violations
    ]
    if details:
        raise ValidationError.from_exception_data(type(model).__name__, details)
