"""The Runbook document: its shape, defaults, digest and the settings each step runs with."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drd.runbooks.spec.effective import settings_for
from drd.runbooks.spec.expressions import Template
from drd.runbooks.spec.models import OnFailure, Runbook

from .builders import a_runbook, a_step, load, problems, text_of

NOTIFY = {"message": "done"}


def test_a_minimal_runbook_gets_documented_defaults() -> None:
    """No target, reject on conflict, 2h run timeout, fail on failure, no finally, no outputs."""
    spec = load(a_runbook()).spec
    assert (spec.target, spec.concurrency.on_conflict, spec.timeout, spec.on_failure) == (
        None,
        "reject",
        timedelta(hours=2),
        OnFailure.FAIL,
    )
    assert (spec.finally_, dict(spec.outputs), spec.description) == ((), {}, "")


def test_templates_are_compiled_when_the_document_is_validated() -> None:
    """with, when, target and outputs hold compiled templates; the source is kept as written."""
    step = a_step(when="${{ params.go }}")
    spec = load(
        a_runbook(
            parameters={"go": {"type": "boolean", "default": True}},
            target={"cluster": "dr-west"},
            steps=[step],
            outputs={"name": "${{ steps['find-backup'].outputs.name }}"},
        )
    ).spec
    assert isinstance(spec.steps[0].with_, Template)
    assert spec.steps[0].with_.source == {"cluster": "dr-west", "policy": "shop"}
    assert spec.steps[0].when is not None
    assert spec.steps[0].when.is_single_expression
    assert spec.outputs["name"].references == {("steps", "find-backup", "outputs", "name")}


def test_the_digest_ignores_layout_and_spelt_out_defaults() -> None:
    """Key order, flow style, comments and explicit defaults do not change what a run pins."""
    plain = load(a_runbook())
    spelt = a_runbook(timeout="2h", onFailure="fail", concurrency={"onConflict": "reject"})
    text = "# a comment\n" + text_of(spelt).replace("kind: Runbook\n", "") + "kind: Runbook\n"
    assert load(text).digest == plain.digest
    assert plain.digest.startswith("sha256:")
    assert len(plain.digest) == 71


def test_the_digest_changes_with_the_meaning() -> None:
    """Any change to what runs changes the digest."""
    assert load(a_runbook(timeout="3h")).digest != load(a_runbook()).digest


def test_the_canonical_form_loads_back_to_an_equal_runbook() -> None:
    """A run stores canonical() and can rebuild the exact runbook it pinned."""
    runbook = load(a_runbook(steps=[a_step(when="${{ true }}")], outputs={"x": "${{ run.id }}"}))
    again = Runbook.model_validate(runbook.canonical())
    assert (again, again.digest) == (runbook, runbook.digest)


@pytest.mark.parametrize(
    ("parameter", "problem"),
    [
        ({"type": "enum"}, "spec.parameters.p.values: an enum needs values, and only an enum has them"),
        ({"type": "string", "values": ["a"]}, "spec.parameters.p.values: an enum needs values, and only an enum"),
        ({"type": "enum", "values": ["a", "a"]}, "spec.parameters.p.values: needs at least one value, each once"),
        ({"type": "string", "items": "string"}, "spec.parameters.p.items: only a list parameter has items"),
        ({"type": "integer", "pattern": "x"}, "spec.parameters.p.pattern: only a string (or a list of strings)"),
        ({"type": "string", "pattern": "("}, "spec.parameters.p.pattern: not a valid regular expression"),
        ({"type": "string", "minimum": 1}, "spec.parameters.p.minimum: only integer and duration parameters"),
        ({"type": "integer", "minimum": "1h"}, "spec.parameters.p.minimum: must be an integer"),
        ({"type": "duration", "maximum": 5}, "spec.parameters.p.maximum: must be a duration such as 1m or 7d"),
        ({"type": "integer", "minimum": 5, "maximum": 1}, "spec.parameters.p.maximum: must not be less than minimum"),
        ({"type": "string", "required": True, "default": "x"}, "spec.parameters.p.default: a required parameter"),
        ({"type": "integer", "secret": True}, "spec.parameters.p.secret: only a string parameter can be secret"),
        ({"type": "string", "secret": True, "default": "x"}, "spec.parameters.p.default: a secret parameter has no"),
        ({"type": "float"}, "spec.parameters.p.type: expected one of: string, integer, boolean, duration, enum, list"),
    ],
)
def test_a_parameters_rules_must_fit_its_type(parameter: dict[str, object], problem: str) -> None:
    """Each rule belongs to some types only; a contradiction is reported at the field."""
    found = problems(a_runbook(parameters={"p": parameter}))
    assert len(found) == 1, found
    assert found[0].startswith(problem), found


def test_parameter_names_are_usable_in_expressions() -> None:
    """params.<name> must parse: identifiers only, and not a CEL keyword."""
    found = problems(a_runbook(parameters={"target-namespace": {"type": "string"}, "in": {"type": "string"}}))
    assert found == [
        'spec.parameters.target-namespace: "target-namespace" is not a name usable in expressions: letters, digits '
        'and "_", not starting with a digit (e.g. targetNamespace)',
        'spec.parameters.in: "in" is a CEL keyword; choose another name',
    ]


def test_step_ids_are_short_lowercase_names() -> None:
    """Ids become parts of Kubernetes object names."""
    (problem,) = problems(a_runbook(steps=[a_step("Find_Backup")]))
    assert problem.startswith('spec.steps[0].id: "Find_Backup" is not a step id: at most 40 lowercase letters')


def test_continue_is_not_a_run_default_and_finally_steps_neither_pause_nor_compensate() -> None:
    """The run's onFailure is fail, pause or compensate; a finally step may only fail or continue."""
    document = a_runbook(onFailure="continue")
    undo = {"type": "notify", "with": NOTIFY}
    document["spec"]["finally"] = [a_step("a", "notify", onFailure="pause", compensate=undo, **{"with": NOTIFY})]
    assert problems(document) == [
        "spec.onFailure: continue is a per-step choice; the run's is fail, pause or compensate",
        "spec.finally[0].onFailure: a finally step may only fail or continue",
        "spec.finally[0].compensate: a finally step cannot be compensated",
    ]


def test_retry_backoff_grows_to_its_maximum() -> None:
    """initial, times factor per attempt, capped at max; max below initial is refused."""
    step = a_step(retry={"maxAttempts": 5, "backoff": {"initial": "2s", "factor": 3, "max": "10s"}})
    backoff = load(a_runbook(steps=[step])).spec.steps[0].retry.backoff  # type: ignore[union-attr]
    assert [backoff.delay(attempt).total_seconds() for attempt in (1, 2, 3)] == [2, 6, 10]
    bad = a_step(retry={"maxAttempts": 2, "backoff": {"initial": "1m", "max": "10s"}})
    assert problems(a_runbook(steps=[bad])) == ["spec.steps[0].retry.backoff.max: must not be less than initial"]


def test_effective_settings_fill_defaults_from_the_step_type_and_the_runbook() -> None:
    """Timeout and attempts from the type, onFailure from the spec; finally continues; compensations fail."""
    restore = a_step("restore", "velero.restore", **{"with": {"cluster": "dr-west", "backup": "b"}})
    restore["compensate"] = {"type": "k8s.deleteNamespace", "with": {"cluster": "dr-west", "name": "x"}}
    quick = a_step("quick", timeout="10s", onFailure="continue", retry={"maxAttempts": 5})
    document = a_runbook(target={"cluster": "dr-west"}, onFailure="pause", steps=[a_step(), restore, quick])
    document["spec"]["finally"] = [a_step("tell", "notify", **{"with": NOTIFY})]
    spec = load(document).spec
    find, restore_step, quick_step = spec.steps
    assert (settings_for(spec, find).timeout, settings_for(spec, find).max_attempts) == (timedelta(minutes=1), 3)
    restored = settings_for(spec, restore_step)
    assert (restored.max_attempts, restored.on_failure, restored.critical) == (1, OnFailure.PAUSE, True)
    quick_settings = settings_for(spec, quick_step)
    assert (quick_settings.timeout, quick_settings.max_attempts, quick_settings.critical) == (
        timedelta(seconds=10),
        5,
        False,
    )
    tell = settings_for(spec, spec.finally_[0])
    assert (tell.on_failure, tell.critical) == (OnFailure.CONTINUE, False)
    assert settings_for(spec, restore_step.compensate).on_failure is OnFailure.FAIL  # type: ignore[arg-type]
