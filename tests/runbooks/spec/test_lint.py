"""Lint: every rule the models cannot check alone, each problem at its path in the document."""

from __future__ import annotations

from typing import Any

from drd.runbooks.spec import lint
from drd.runbooks.spec.loader import load_runbook_text

from .builders import a_runbook, a_step, problems, text_of

TARGET = {"cluster": "${{ params.cluster }}"}
CLUSTER = {"cluster": {"type": "string", "default": "dr-west"}}


def restore(step_id: str = "restore", **inputs: Any) -> dict[str, Any]:
    """A velero.restore step on dr-west restoring the backup find-backup chose."""
    defaults = {"cluster": "dr-west", "backup": "${{ steps['find-backup'].outputs.name }}"}
    return a_step(step_id, "velero.restore", **{"with": defaults | inputs})


def test_a_valid_runbook_has_no_problems() -> None:
    """The baseline the other tests change one thing of."""
    assert problems(a_runbook(parameters=CLUSTER, target=TARGET, steps=[a_step(), restore()])) == []


def test_an_unknown_step_type_lists_the_known_ones() -> None:
    """A typo in type names what exists."""
    (problem,) = problems(a_runbook(steps=[a_step(step_type="velero.restor")]))
    assert problem.startswith('spec.steps[0].type: unknown step type "velero.restor"; known types: approval, assert,')
    assert "velero.restore" in problem


def test_with_is_validated_against_the_step_types_inputs() -> None:
    """Static values are typed at load: a wrong type, a missing input, an unknown input with the known ones."""
    step = a_step("scale", "k8s.scale", **{"with": {"cluster": "dr-west", "kind": "Pod", "replica": 1}})
    assert problems(a_runbook(target=TARGET, parameters=CLUSTER, steps=[step])) == [
        "spec.steps[0].with.namespace: required field is missing; expected a valid name: at most 63 lowercase "
        'letters, digits and "-", starting and ending with a letter or digit',
        "spec.steps[0].with.replicas: required field is missing; expected a valid value",
        'spec.steps[0].with.kind: expected one of: Deployment, StatefulSet, got the string "Pod"',
        "spec.steps[0].with.replica: unknown field; known fields are: cluster, namespace, kind, name, replicas; "
        'did you mean "replicas"?',
    ]


def test_inputs_holding_expressions_are_typed_only_when_rendered() -> None:
    """An expression may give any type, so only its presence counts at load; a misspelt name is still caught."""
    step = a_step(
        "scale",
        "k8s.scale",
        **{
            "with": {
                "cluster": "${{ params.cluster }}",
                "namespace": "shop",
                "kind": "Deployment",
                "replicas": "${{ params.cluster }}",
                "replica": "${{ params.cluster }}",
            }
        },
    )
    assert problems(a_runbook(target=TARGET, parameters=CLUSTER, steps=[step])) == [
        'spec.steps[0].with.replica: unknown input "replica"; k8s.scale takes: cluster, namespace, kind, name, replicas'
    ]


def test_step_ids_are_unique_across_steps_and_finally() -> None:
    """A repeated id names the first use."""
    document = a_runbook(steps=[a_step(), a_step()])
    document["spec"]["finally"] = [a_step("notify", "notify", **{"with": {"message": "x"}}), a_step()]
    assert problems(document) == [
        'spec.steps[1].id: step id "find-backup" is already used by steps[0]',
        'spec.finally[1].id: step id "find-backup" is already used by steps[0]',
    ]


def test_an_expression_that_does_not_parse_is_reported_at_its_exact_path() -> None:
    """The path goes down to the string inside with; other problems of the document are still reported."""
    step = a_step(**{"with": {"cluster": "dr-west", "policy": "${{ params. }}", "maxAge": "3"}})
    assert problems(a_runbook(steps=[step])) == [
        "spec.steps[0].with.policy: ${{ params. }}: syntax error at column 7",
        'spec.steps[0].with.maxAge: invalid duration "3": use a number and a unit (w, d, h, m, s), largest first, '
        "e.g. 30m, 6h, 1h30m, 7d, 2w or 720h0m0s",
    ]


def test_syntax_errors_in_keys_targets_and_outputs_are_found() -> None:
    """Every place that holds templates is checked."""
    step = restore(namespaceMapping={"${{ params.ns ": "x"})
    document = a_runbook(target={"cluster": "${{ 1 + }}"}, steps=[a_step(), step], outputs={"x": "${{ ) }}"})
    assert [problem.split(": ")[0] for problem in problems(document)] == [
        'spec.steps[1].with.namespaceMapping["${{ params.ns "]',
        "spec.target.cluster",
        "spec.outputs.x",
    ]


def test_references_to_undeclared_parameters_list_the_declared_ones() -> None:
    """params.<name> must be declared."""
    step = a_step(**{"with": {"cluster": "${{ params.clustr }}", "policy": "shop"}})
    assert problems(a_runbook(parameters=CLUSTER, steps=[step])) == [
        'spec.steps[0].with.cluster: unknown parameter "clustr" in params.clustr; declared parameters: cluster'
    ]


def test_a_step_reads_only_steps_that_run_before_it() -> None:
    """A forward reference, a reference to itself and one to a step that does not exist are refused."""
    first = restore("first", backup="${{ steps.second.outputs.name }}")
    second = restore("second", backup="${{ steps.second.outputs.name }}")
    third = restore("third", backup="${{ steps.nope.outputs.name }}")
    assert problems(a_runbook(target=TARGET, parameters=CLUSTER, steps=[first, second, third])) == [
        "spec.steps[0].with.backup: steps.second: a step reads only steps that run before it (available: none)",
        "spec.steps[1].with.backup: steps.second: a step reads only steps that run before it (available: first)",
        "spec.steps[2].with.backup: steps.nope: a step reads only steps that run before it (available: first, second)",
    ]


def test_a_when_guard_obeys_the_same_ordering() -> None:
    """when is an expression like any other."""
    step = a_step(when="${{ steps['find-backup'].status == 'Succeeded' }}")
    assert problems(a_runbook(steps=[step])) == [
        "spec.steps[0].when: steps['find-backup']: a step reads only steps that run before it (available: none)"
    ]


def test_finally_reads_any_main_step_and_earlier_finally_steps() -> None:
    """A finally step may read a step the run never reached; not a later finally step."""
    early = a_step("early", "notify", **{"with": {"message": "${{ steps.restore.status }} ${{ steps.late.status }}"}})
    late = a_step("late", "notify", **{"with": {"message": "${{ steps.early.status }}"}})
    document = a_runbook(target=TARGET, parameters=CLUSTER, steps=[a_step(), restore()])
    document["spec"]["finally"] = [early, late]
    assert problems(document) == [
        "spec.finally[0].with.message: steps.late: a finally step reads the main steps and earlier finally steps "
        "(available: find-backup, restore)"
    ]


def test_a_compensation_reads_its_own_step_and_earlier_ones() -> None:
    """What the step produced is what undoing it needs; later steps may not have run."""
    step = restore()
    step["compensate"] = {
        "type": "k8s.deleteNamespace",
        "with": {"cluster": "dr-west", "name": "${{ steps.restore.outputs.name }}-${{ steps.wait.status }}"},
    }
    wait = a_step("wait", "k8s.waitReady", **{"with": {"cluster": "dr-west", "namespace": "shop"}})
    assert problems(a_runbook(target=TARGET, parameters=CLUSTER, steps=[a_step(), step, wait])) == [
        "spec.steps[1].compensate.with.name: steps.wait: a compensation reads only its own step and earlier ones "
        "(available: find-backup, restore)"
    ]


def test_outputs_a_type_does_not_declare_are_refused() -> None:
    """steps['id'].outputs.<name> must be one the step's type declares; status and outputs are all a step has."""
    step = restore(
        backup="${{ steps['find-backup'].outputs.nmae }}", includedNamespaces="${{ steps['find-backup'].phase }}"
    )
    assert problems(a_runbook(target=TARGET, parameters=CLUSTER, steps=[a_step(), step])) == [
        "spec.steps[1].with.backup: steps['find-backup'].outputs.nmae: velero.findBackup has no output \"nmae\"; "
        "its outputs: name, phase, completedAt, ageSeconds, storageLocation",
        "spec.steps[1].with.includedNamespaces: steps['find-backup'].phase: a step has only outputs and status",
    ]


def test_run_and_target_have_fixed_fields() -> None:
    """run has id, trigger, requestedBy, startedAt; target has cluster and, when declared, namespace."""
    step = a_step("tell", "notify", **{"with": {"message": "${{ run.user }} ${{ target.namespace }} ${{ target.x }}"}})
    assert problems(a_runbook(target=TARGET, parameters=CLUSTER, steps=[step])) == [
        'spec.steps[0].with.message: run has no "user"; it has: id, trigger, requestedBy, startedAt',
        "spec.steps[0].with.message: target.namespace: spec.target has no namespace (the run locks the whole cluster)",
        'spec.steps[0].with.message: target has no "x"; it has: cluster, namespace',
    ]


def test_the_target_reads_only_params_and_run() -> None:
    """The lock is decided before any step runs."""
    document = a_runbook(target={"cluster": "${{ steps['find-backup'].outputs.name }}"}, steps=[a_step()])
    assert problems(document) == [
        "spec.target.cluster: spec.target may read only params and run; steps['find-backup'].outputs.name is not "
        "available here"
    ]


def test_unknown_names_are_refused() -> None:
    """Expressions read params, steps, run and target, nothing else."""
    step = a_step(**{"with": {"cluster": "${{ param.cluster }}", "policy": "shop"}})
    assert problems(a_runbook(steps=[step])) == [
        'spec.steps[0].with.cluster: unknown name "param"; expressions read params, steps, run and target'
    ]


def test_a_type_that_is_not_safe_to_repeat_is_never_retried() -> None:
    """retry.maxAttempts > 1 on an idempotency: none type (a notification, a Vault write) is refused."""
    step = a_step("tell", "notify", **{"with": {"message": "hi"}, "retry": {"maxAttempts": 3}})
    assert problems(a_runbook(steps=[step])) == [
        "spec.steps[0].retry.maxAttempts: notify is not safe to repeat (idempotency: none): it may run only once"
    ]


def test_a_mutating_step_needs_a_target() -> None:
    """The target decides the lock; every mutating step (compensations and finally too) says so."""
    cleanup = a_step("cleanup", "k8s.deleteNamespace", **{"with": {"cluster": "dr-west", "name": "shop"}})
    document = a_runbook(steps=[a_step(), restore()])
    document["spec"]["finally"] = [cleanup]
    assert problems(document) == [
        "spec.steps[1].type: velero.restore changes things, so spec.target is required: it decides the run's lock",
        "spec.finally[0].type: k8s.deleteNamespace changes things, so spec.target is required: it decides the run's "
        "lock",
    ]


def test_a_default_must_pass_its_own_parameters_rules() -> None:
    """A default that fails its pattern, enum, bounds or type is a problem of the runbook, not of the run."""
    parameters = {
        "name": {"type": "string", "default": "Shop", "pattern": "^[a-z]+$"},
        "mode": {"type": "enum", "values": ["a", "b"], "default": "c"},
        "replicas": {"type": "integer", "default": 99, "maximum": 50},
        "age": {"type": "duration", "default": 6},
    }
    assert problems(a_runbook(parameters=parameters)) == [
        'spec.parameters.name.default: the default fails its own rules: "Shop" does not match ^[a-z]+$',
        'spec.parameters.mode.default: the default fails its own rules: "c" is not one of: a, b',
        "spec.parameters.replicas.default: the default fails its own rules: must be at most 50, got 99",
        "spec.parameters.age.default: the default fails its own rules: expected a duration such as 30m or 6h, got 6",
    ]


def test_a_when_is_one_expression() -> None:
    """A guard that interpolates text, or is a plain boolean, is refused with an example."""
    steps = [a_step("a", when="x ${{ true }}"), a_step("b", when=True)]
    expected = "a condition is one expression, e.g. \"${{ params.mode == 'in-place' }}\""
    assert problems(a_runbook(steps=steps)) == [f"spec.steps[0].when: {expected}", f"spec.steps[1].when: {expected}"]


def test_a_secret_flowing_into_a_message_or_an_output_is_a_warning() -> None:
    """Secrets would be sent in clear, or stored redacted; the runbook still loads."""
    read = a_step("read", "vault.read", **{"with": {"path": "shop/db"}})
    tell = a_step("tell", "notify", **{"with": {"message": "token ${{ params.token }}"}})
    document = a_runbook(
        parameters={"token": {"type": "string", "secret": True}},
        steps=[read, tell],
        outputs={"password": "${{ steps.read.outputs.value }}", "version": "${{ steps.read.outputs.version }}"},
    )
    assert problems(document) == []
    runbook = load_runbook_text(text_of(document))
    assert [(finding.path, finding.severity.value) for finding in lint.lint(runbook)] == [
        (("spec", "steps", 1, "with", "message"), "warning"),
        (("spec", "outputs", "password"), "warning"),
    ]
