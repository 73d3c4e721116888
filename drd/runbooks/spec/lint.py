"""Lint: what a runbook's models cannot check alone, each finding at its path in the document.

Rules: step types exist; ``with`` fits the type's inputs (values holding
expressions are checked when rendered); step ids are unique; every
expression compiles (:func:`check_syntax`, on the raw document, before the
models); expressions read only declared parameters, steps that run before
(a ``finally`` step any main step, a compensation its own step and earlier
ones) and outputs their type declares; a step is retried only when its type
is safe to repeat; a runbook with a mutating step has a ``target``;
parameter defaults pass their own rules; a ``when`` is one expression.
Warnings: a secret flowing into a message or the run's outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from drd.policy.catalog import Finding, error, warning
from drd.policy.locations import Loc
from drd.runbooks.spec import parameters, taint
from drd.runbooks.spec.catalog import CATALOG, StepType
from drd.runbooks.spec.cel import Ref
from drd.runbooks.spec.expressions import compile_template, reference_text
from drd.runbooks.spec.models import Action, Runbook, RunbookSpec, Step
from drd.runbooks.spec.syntax import ExpressionError, contains_expression, iter_strings

RUN_FIELDS = ("id", "trigger", "requestedBy", "startedAt")
"""What ``run`` holds."""
STEP_FIELDS = ("outputs", "status")
"""What ``steps['<id>']`` holds."""


def lint(runbook: Runbook) -> list[Finding]:
    """Every finding about a valid runbook document, errors and warnings, in document order."""
    spec = runbook.spec
    found = list(_parameter_defaults(runbook))
    found += _target(spec)
    found += _unique_ids(spec)
    for index, step in enumerate(spec.steps):
        found += _action(runbook, step, ("spec", "steps", index), _visible(spec.steps[:index], _BEFORE))
        if step.compensate is not None:
            scope = _visible(spec.steps[: index + 1], _COMPENSATION)
            found += _action(runbook, step.compensate, ("spec", "steps", index, "compensate"), scope)
    for index, step in enumerate(spec.finally_):
        scope = _visible(spec.steps + spec.finally_[:index], _FINALLY)
        found += _action(runbook, step, ("spec", "finally", index), scope)
    found += _outputs(runbook)
    return found


def check_syntax(data: Any) -> list[Finding]:
    """Syntax errors of every expression in a raw (not yet validated) document, each at its exact path."""
    found = []
    for loc, text in _template_strings(data):
        try:
            compile_template(text)
        except ExpressionError as exc:
            found.append(error(loc, str(exc)))
    return found


def _template_strings(data: Any) -> Iterator[tuple[Loc, str]]:
    """Every string holding ``${{`` where templates are allowed: target, with, when, outputs."""
    spec = data.get("spec") if isinstance(data, Mapping) else None
    if not isinstance(spec, Mapping):
        return
    for key in ("target", "outputs"):
        yield from iter_strings(spec.get(key), ("spec", key))
    for section in ("steps", "finally"):
        steps = spec.get(section)
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            if not isinstance(step, Mapping):
                continue
            actions: list[tuple[Loc, Any]] = [((("spec", section, index)), step)]
            if isinstance(step.get("compensate"), Mapping):
                actions.append(((("spec", section, index, "compensate")), step["compensate"]))
            for loc, action in actions:
                for key in ("with", "when"):
                    yield from iter_strings(action.get(key), (*loc, key))


@dataclass(frozen=True)
class _Scope:
    """What the expressions at one place may read."""

    steps: Mapping[str, str]
    """Step ids that ran before → their type names."""
    roots: frozenset[str] = frozenset({"params", "steps", "run", "target"})
    rule: str = ""
    """Why a step or a name is out of reach here; empty when every step is."""


_BEFORE = "a step reads only steps that run before it"
_COMPENSATION = "a compensation reads only its own step and earlier ones"
_FINALLY = "a finally step reads the main steps and earlier finally steps"


def _visible(steps: tuple[Step, ...], rule: str) -> _Scope:
    return _Scope({step.id: step.type for step in steps}, rule=rule)


def _parameter_defaults(runbook: Runbook) -> Iterator[Finding]:
    for name, parameter in runbook.spec.parameters.items():
        if parameter.default is None:
            continue
        try:
            parameters.coerce(parameter, parameter.default)
        except ValueError as exc:
            yield error(("spec", "parameters", name, "default"), f"the default fails its own rules: {exc}")


def _target(spec: RunbookSpec) -> Iterator[Finding]:
    if spec.target is None:
        for loc, action in _located_actions(spec):
            step_type = CATALOG.get(action.type)
            if step_type is not None and step_type.mutating:
                yield error((*loc, "type"), f"{step_type.name} changes things, so spec.target is required: "
                                            "it decides the run's lock")  # fmt: skip
        return
    scope = _Scope({}, frozenset({"params", "run"}), "spec.target may read only params and run")
    for key in ("cluster", "namespace"):
        template = getattr(spec.target, key)
        if template is not None:
            yield from _references(spec, template.source, ("spec", "target", key), scope)


def _located_actions(spec: RunbookSpec) -> Iterator[tuple[Loc, Action]]:
    for section, steps in (("steps", spec.steps), ("finally", spec.finally_)):
        for index, step in enumerate(steps):
            yield ("spec", section, index), step
            if step.compensate is not None:
                yield ("spec", section, index, "compensate"), step.compensate


def _unique_ids(spec: RunbookSpec) -> Iterator[Finding]:
    seen: dict[str, Loc] = {}
    located = [(("spec", "steps", index), step) for index, step in enumerate(spec.steps)]
    located += [(("spec", "finally", index), step) for index, step in enumerate(spec.finally_)]
    for loc, step in located:
        first = seen.setdefault(step.id, loc)
        if first is not loc:
            yield error((*loc, "id"), f'step id "{step.id}" is already used by {_where(first)}')


def _where(loc: Loc) -> str:
    return f"{loc[1]}[{loc[2]}]"


def _action(runbook: Runbook, action: Action, loc: Loc, scope: _Scope) -> Iterator[Finding]:
    step_type = CATALOG.get(action.type)
    if step_type is None:
        yield error((*loc, "type"), f'unknown step type "{action.type}"; known types: {", ".join(sorted(CATALOG))}')
    else:
        source = action.with_.source
        for where, message in step_type.check_inputs(source, deferred=contains_expression):
            yield error((*loc, "with", *where), message)
        attempts = action.retry.max_attempts if action.retry else 1
        if attempts > 1 and step_type.idempotency == "none":
            yield error((*loc, "retry", "maxAttempts"), f"{step_type.name} is not safe to repeat "
                                                        "(idempotency: none): it may run only once")  # fmt: skip
        yield from _taint(runbook, action, step_type, loc)
    if action.when is not None and not action.when.is_single_expression:
        yield error((*loc, "when"), "a condition is one expression, e.g. \"${{ params.mode == 'in-place' }}\"")
    yield from _references(runbook.spec, action.with_.source, (*loc, "with"), scope)
    if action.when is not None:
        yield from _references(runbook.spec, action.when.source, (*loc, "when"), scope)


def _taint(runbook: Runbook, action: Action, step_type: StepType, loc: Loc) -> Iterator[Finding]:
    if step_type.name not in ("notify", "approval"):
        return
    message = action.with_.source.get("message")
    if isinstance(message, str) and taint.is_tainted(runbook, compile_template(message)):
        yield warning((*loc, "with", "message"), "the message reads a secret; it would be sent in clear")


def _outputs(runbook: Runbook) -> Iterator[Finding]:
    spec = runbook.spec
    scope = _Scope({step.id: step.type for step in spec.all_steps})
    for name, template in spec.outputs.items():
        yield from _references(spec, template.source, ("spec", "outputs", name), scope)
        if taint.is_tainted(runbook, template):
            yield warning(("spec", "outputs", name), "this output reads a secret; it is stored only as <redacted>")


def _references(spec: RunbookSpec, value: Any, loc: Loc, scope: _Scope) -> Iterator[Finding]:
    for where, text in iter_strings(value, loc):
        try:
            references = compile_template(text).references
        except ExpressionError:
            continue  # reported by check_syntax
        for ref in sorted(references, key=str):
            message = _check_reference(spec, ref, scope)
            if message:
                yield error(where, message)


def _check_reference(spec: RunbookSpec, ref: Ref, scope: _Scope) -> str | None:
    root = str(ref[0])
    check = _CHECKS.get(root)
    if check is None:
        return f'unknown name "{root}"; expressions read params, steps, run and target'
    if root not in scope.roots:
        return f"{scope.rule}; {reference_text(ref)} is not available here"
    return check(spec, ref, scope) if len(ref) > 1 else None


def _check_run(spec: RunbookSpec, ref: Ref, scope: _Scope) -> str | None:
    return None if ref[1] in RUN_FIELDS else f'run has no "{ref[1]}"; it has: {", ".join(RUN_FIELDS)}'


def _check_param(spec: RunbookSpec, ref: Ref, scope: _Scope) -> str | None:
    if ref[1] in spec.parameters:
        return None
    declared = ", ".join(spec.parameters) or "none"
    return f'unknown parameter "{ref[1]}" in {reference_text(ref)}; declared parameters: {declared}'


def _check_step(spec: RunbookSpec, ref: Ref, scope: _Scope) -> str | None:
    step_id = str(ref[1])
    if step_id not in scope.steps:
        before = ", ".join(scope.steps) or "none"
        if scope.rule:
            return f"{reference_text(ref[:2])}: {scope.rule} (available: {before})"
        return f"{reference_text(ref[:2])}: there is no such step (steps: {before})"
    if len(ref) < 3:
        return None
    if ref[2] not in STEP_FIELDS:
        return f"{reference_text(ref[:3])}: a step has only outputs and status"
    step_type = CATALOG.get(scope.steps[step_id])
    if ref[2] != "outputs" or len(ref) < 4 or step_type is None or ref[3] in step_type.outputs:
        return None
    declared = ", ".join(step_type.outputs) or "none"
    return f'{reference_text(ref[:4])}: {step_type.name} has no output "{ref[3]}"; its outputs: {declared}'


def _check_target(spec: RunbookSpec, ref: Ref, scope: _Scope) -> str | None:
    if spec.target is None:
        return f"{reference_text(ref)}: spec.target is not set"
    if ref[1] not in ("cluster", "namespace"):
        return f'target has no "{ref[1]}"; it has: cluster, namespace'
    if ref[1] == "namespace" and spec.target.namespace is None:
        return "target.namespace: spec.target has no namespace (the run locks the whole cluster)"
    return None


_CHECKS: dict[str, Callable[[RunbookSpec, Ref, _Scope], str | None]] = {
    "params": _check_param,
    "steps": _check_step,
    "run": _check_run,
    "target": _check_target,
}
