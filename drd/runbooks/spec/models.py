"""The ``kind: Runbook`` document: typed parameters, a target that decides the lock, steps, ``finally``, outputs.

Models validate the shape of a runbook on their own (field types, a
parameter's rules fit its type, ``finally`` steps cannot compensate);
everything that needs the step catalogue or reads across fields (known step
types, typed inputs, references to earlier steps) is checked by
:mod:`drd.runbooks.spec.lint`. Values that may hold ``${{ }}`` expressions are
:class:`~drd.runbooks.spec.expressions.Template` objects, compiled once when
the document is validated.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema, model_validator

from drd.policy.durations import PositiveDuration, parse_duration
from drd.policy.frozen import FrozenMap
from drd.policy.locations import Loc
from drd.policy.models.base import Document, Model, raise_violations
from drd.policy.names import Matches
from drd.runbooks.spec.expressions import Template, compile_template

RESERVED = frozenset({"true", "false", "null", "in"})
"""Words CEL reads as literals or operators, so ``params.<word>`` cannot name a parameter."""

StepId = Annotated[
    str,
    Matches(
        r"^[a-z][a-z0-9-]{0,39}$",
        'a step id: at most 40 lowercase letters, digits and "-", starting with a letter',
        40,
        ("find-backup", "restore"),
    ),
]
"""A step id; it is embedded in Kubernetes object names and idempotency keys, hence the DNS-like form."""


def _not_reserved(name: str) -> str:
    if name in RESERVED:
        raise ValueError(f'"{name}" is a CEL keyword; choose another name')
    return name


Identifier = Annotated[
    str,
    Matches(
        r"^[A-Za-z_][A-Za-z0-9_]*$",
        'a name usable in expressions: letters, digits and "_", not starting with a digit (e.g. targetNamespace)',
        63,
        ("application", "targetNamespace"),
    ),
    AfterValidator(_not_reserved),
]
"""A parameter or output name, read in expressions as ``params.<name>``."""


def _freeze(value: Mapping[str, Any]) -> FrozenMap[str, Any]:
    return FrozenMap(value)


def _mapping_only(value: Any) -> Any:
    if not isinstance(value, Mapping | Template):
        raise ValueError("expected a mapping of input names to values")  # noqa: TRY004 - pydantic reads ValueError
    return value


def _string_only(value: Any) -> Any:
    if not isinstance(value, str | Template):
        raise ValueError("expected a string (it may hold ${{ }} expressions)")  # noqa: TRY004 - pydantic reads it
    return value


Inputs = Annotated[
    Template,
    BeforeValidator(_mapping_only),
    WithJsonSchema({"type": "object", "description": "The step type's inputs; values may hold ${{ }} expressions."}),
]
"""A step's ``with``: a mapping whose values may hold expressions."""

StringTemplate = Annotated[
    Template, BeforeValidator(_string_only), WithJsonSchema({"type": "string", "examples": ["${{ params.cluster }}"]})
]
"""A string that may hold expressions."""

Condition = Annotated[
    Template,
    WithJsonSchema({"type": "string", "pattern": r"^\s*\$\{\{.*\}\}\s*$", "examples": ["${{ params.mode == 'x' }}"]}),
]
"""A ``when`` guard: one expression giving true or false (checked by lint)."""


class ParameterType(StrEnum):
    """What a parameter holds."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DURATION = "duration"
    ENUM = "enum"
    LIST = "list"


class ItemType(StrEnum):
    """What the items of a ``list`` parameter hold."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DURATION = "duration"


class Parameter(Model):
    """One typed input of a runbook, given on the command line as ``-p name=value``."""

    type: ParameterType
    """``string``, ``integer``, ``boolean``, ``duration``, ``enum`` or ``list``."""
    description: str = ""
    """What the parameter means, shown by ``drd runbook show``."""
    required: bool = False
    """A run must give a value; a required parameter has no default."""
    default: Any = None
    """The value when none is given (written as it would be on the command line or as YAML)."""
    secret: bool = False
    """Never shown; stored only as ``<redacted>``. Strings only, and without a default (it would sit in the file)."""
    pattern: str | None = None
    """A regular expression a string (or every string item of a list) must match (``re.search``: anchor it)."""
    values: tuple[str, ...] | None = None
    """The accepted values of an ``enum``."""
    items: ItemType | None = None
    """The type of a ``list``'s items; default ``string``. On the command line items are comma-separated."""
    minimum: int | str | None = None
    """The least accepted ``integer``, or ``duration`` (``1m``)."""
    maximum: int | str | None = None
    """The greatest accepted ``integer``, or ``duration`` (``7d``)."""

    @property
    def item_type(self) -> ItemType:
        """The items' type of a list parameter (``string`` when not given)."""
        return self.items or ItemType.STRING

    def bound(self, value: int | str) -> int | timedelta:
        """A ``minimum``/``maximum`` as a comparable value."""
        return parse_duration(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _rules_fit_the_type(self) -> Parameter:
        raise_violations(self, _parameter_violations(self))
        return self


def _parameter_violations(parameter: Parameter) -> list[tuple[Loc, str, Any]]:
    kind, found = parameter.type, list[tuple[Loc, str, Any]]()
    if (kind is ParameterType.ENUM) != (parameter.values is not None):
        found.append((("values",), "an enum needs values, and only an enum has them", parameter.values))
    elif parameter.values is not None and (not parameter.values or len(set(parameter.values)) != len(parameter.values)):
        found.append((("values",), "needs at least one value, each once", parameter.values))
    if parameter.items is not None and kind is not ParameterType.LIST:
        found.append((("items",), "only a list parameter has items", parameter.items))
    if parameter.pattern is not None:
        strings = kind is ParameterType.LIST and parameter.item_type is ItemType.STRING
        if kind is not ParameterType.STRING and not strings:
            found.append((("pattern",), "only a string (or a list of strings) has a pattern", parameter.pattern))
        try:
            re.compile(parameter.pattern)
        except re.error as exc:
            found.append((("pattern",), f"not a valid regular expression: {exc}", parameter.pattern))
    for name in ("minimum", "maximum"):
        found += _bound_violations(parameter, name)
    if parameter.required and parameter.default is not None:
        found.append((("default",), "a required parameter has no default: drop one of them", parameter.default))
    if parameter.secret and kind is not ParameterType.STRING:
        found.append((("secret",), "only a string parameter can be secret", parameter.secret))
    if parameter.secret and parameter.default is not None:
        found.append((("default",), "a secret parameter has no default: it would be written in the file", "…"))
    return found


def _bound_violations(parameter: Parameter, name: str) -> list[tuple[Loc, str, Any]]:
    value = getattr(parameter, name)
    if value is None:
        return []
    message = _bound_problem(parameter.type, value)
    if message is None and name == "maximum" and parameter.minimum is not None:
        try:
            if parameter.bound(parameter.minimum) > parameter.bound(value):  # type: ignore[operator]
                message = "must not be less than minimum"
        except (ValueError, TypeError):
            pass  # the minimum is reported on its own
    return [] if message is None else [((name,), message, value)]


def _bound_problem(kind: ParameterType, value: Any) -> str | None:
    if kind is ParameterType.INTEGER:
        integer = isinstance(value, int) and not isinstance(value, bool)
        return None if integer else "must be an integer for an integer parameter"
    if kind is not ParameterType.DURATION:
        return "only integer and duration parameters have a minimum and a maximum"
    if not isinstance(value, str):
        return "must be a duration such as 1m or 7d for a duration parameter"
    try:
        parse_duration(value)
    except ValueError as exc:
        return str(exc)
    return None


class OnFailure(StrEnum):
    """What happens when a step fails after its attempts."""

    FAIL = "fail"
    """The run fails (``finally`` runs)."""
    CONTINUE = "continue"
    """The failure is recorded and the run goes on; per step only."""
    PAUSE = "pause"
    """The run pauses for a human (``drd runbook resume``), keeping its lock."""
    COMPENSATE = "compensate"
    """The registered compensations run in reverse order, then the run fails."""


class ConflictPolicy(StrEnum):
    """What a new run does while another run holds its target's lock."""

    REJECT = "reject"
    QUEUE = "queue"
    SKIP = "skip"


class Backoff(Model):
    """Exponential backoff between attempts: ``initial``, times ``factor`` each time, at most ``max``."""

    initial: PositiveDuration = timedelta(seconds=1)
    """The wait before the second attempt."""
    factor: Annotated[float, Field(ge=1, le=10)] = 2.0
    """Each wait is the previous one times this."""
    max: PositiveDuration = timedelta(seconds=30)
    """The longest wait."""

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> Backoff:
        if self.max < self.initial:
            raise_violations(self, [(("max",), "must not be less than initial", str(self.max))])
        return self

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based), before jitter."""
        seconds = self.initial.total_seconds() * self.factor ** max(attempt - 1, 0)
        return min(timedelta(seconds=min(seconds, self.max.total_seconds())), self.max)


class Retry(Model):
    """How often a step is tried; only errors classified as temporary are retried."""

    max_attempts: Annotated[int, Field(ge=1, le=20)]
    """Attempts in all, the first included."""
    backoff: Backoff = Field(default_factory=Backoff)
    """The waits between attempts."""


class Action(Model):
    """What a step or a compensation does: a type from the catalogue and its inputs."""

    type: str
    """The step type (``velero.restore``); ``drd runbook types`` lists them."""
    description: str = ""
    """What the step is for, shown in plans and reports."""
    with_: Inputs = Field(default_factory=lambda: compile_template({}), alias="with")
    """The type's inputs; values may hold ``${{ }}`` expressions."""
    when: Condition | None = None
    """A guard, one expression: false skips the step (recorded as Skipped)."""
    timeout: PositiveDuration | None = None
    """The limit for one attempt; default from the step type."""
    retry: Retry | None = None
    """Attempts and backoff; default from the step type (3 for pure and idempotent types, else 1)."""


class Compensation(Action):
    """A step that undoes a succeeded one; registered once that step succeeds, run in reverse order."""


class Step(Action):
    """One step of a runbook."""

    id: StepId
    """Unique within the runbook (steps and ``finally``); ``steps['<id>']`` in expressions."""
    on_failure: OnFailure | None = None
    """``fail``, ``continue``, ``pause`` or ``compensate``; default ``spec.onFailure`` (``continue`` in ``finally``)."""
    critical: bool | None = None
    """Whether a failure fails the run; default true, false when ``onFailure: continue``."""
    compensate: Compensation | None = None
    """What undoes this step; its id is ``<id>.compensate``."""

    @property
    def compensation_id(self) -> str:
        """The id the compensation runs under."""
        return f"{self.id}.compensate"


class Target(Model):
    """What a run changes: it decides the lock (cluster, or cluster and namespace) and the guards."""

    cluster: StringTemplate
    """The cluster (expressions may read ``params`` and ``run``)."""
    namespace: StringTemplate | None = None
    """The namespace; without it the run locks the whole cluster."""


class Concurrency(Model):
    """One run at a time per target; what a second run does."""

    on_conflict: ConflictPolicy = ConflictPolicy.REJECT
    """``reject`` (say who holds the lock), ``queue`` (wait for it) or ``skip``."""


Parameters = Annotated[
    Mapping[Identifier, Parameter], AfterValidator(_freeze), PlainSerializer(dict, return_type=dict[str, Parameter])
]
Outputs = Annotated[
    Mapping[Identifier, Template], AfterValidator(_freeze), PlainSerializer(dict, return_type=dict[str, Template])
]


class RunbookSpec(Model):
    """The body of a runbook."""

    description: str = ""
    """Markdown shown by ``drd runbook show``: when to use it, what it does."""
    parameters: Parameters = Field(default_factory=FrozenMap)
    """Typed inputs, in the order ``drd runbook show`` lists them."""
    target: Target | None = None
    """What the run changes; required when any step mutates."""
    concurrency: Concurrency = Field(default_factory=Concurrency)
    """What a second run for the same target does."""
    timeout: PositiveDuration = timedelta(hours=2)
    """The limit for the whole run."""
    on_failure: OnFailure = OnFailure.FAIL
    """The default for steps: ``fail``, ``pause`` or ``compensate``."""
    steps: Annotated[tuple[Step, ...], Field(min_length=1)]
    """What the run does, in order."""
    finally_: tuple[Step, ...] = Field(default=(), alias="finally")
    """Steps that run once when the run reaches a terminal state (succeeded, failed, cancelled, timed out)."""
    outputs: Outputs = Field(default_factory=FrozenMap)
    """The run's result, shown by ``drd runbook show RUN`` (expressions over ``steps``, ``params``, ``target``)."""

    @model_validator(mode="after")
    def _failure_rules(self) -> RunbookSpec:
        found: list[tuple[Loc, str, Any]] = []
        if self.on_failure is OnFailure.CONTINUE:
            found.append((("onFailure",), "continue is a per-step choice; the run's is fail, pause or compensate", ""))
        for index, step in enumerate(self.finally_):
            if step.compensate is not None:
                found.append((("finally", index, "compensate"), "a finally step cannot be compensated", ""))
            if step.on_failure in (OnFailure.PAUSE, OnFailure.COMPENSATE):
                found.append((("finally", index, "onFailure"), "a finally step may only fail or continue", ""))
        raise_violations(self, found)
        return self

    @property
    def all_steps(self) -> tuple[Step, ...]:
        """``steps`` then ``finally``."""
        return self.steps + self.finally_

    def step(self, step_id: str) -> Step:
        """The step (or finally step) with this id; KeyError if there is none."""
        for step in self.all_steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def is_finally(self, step: Step) -> bool:
        """Whether ``step`` is one of the ``finally`` steps."""
        return any(step is item for item in self.finally_)


class Runbook(Document):
    """A runbook: ``kind: Runbook``, ``metadata.name`` equal to its file's stem."""

    kind: Literal["Runbook"]
    spec: RunbookSpec

    def canonical(self) -> dict[str, Any]:
        """The validated document as JSON data (YAML names, defaults filled in): what a run pins."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data

    @cached_property
    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON: equal for documents that mean the same, whatever their layout."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
