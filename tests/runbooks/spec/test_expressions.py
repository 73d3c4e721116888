"""Templates: ``${{ CEL }}`` in YAML values, typed when alone, interpolated otherwise, Unknown-aware."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drd.runbooks.spec.expressions import Context, ExpressionError, compile_template, step_states, to_text
from drd.runbooks.spec.unknown import Unknown, contains_unknown

CONTEXT = Context(
    params={"cluster": "dr-west", "replicas": 3, "live": True, "maxAge": timedelta(hours=24), "namespaces": ("a", "b")},
    steps={"find-backup": {"status": "Succeeded", "outputs": {"name": "shop-0300", "ageSeconds": 7200}}},
    run={"id": "r-1", "trigger": "cli", "requestedBy": "alice", "startedAt": datetime(2026, 3, 1, 3, 0, tzinfo=UTC)},
    target={"cluster": "dr-west", "namespace": "shop-restored"},
)


def render(value: Any, context: Context = CONTEXT) -> Any:
    return compile_template(value).render(context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("${{ params.replicas }}", 3),
        ("${{ params.replicas + 1 }}", 4),
        ("${{ params.live }}", True),
        ("${{ params.namespaces }}", ["a", "b"]),
        ("${{ {'n': params.replicas} }}", {"n": 3}),
        ("${{ params.maxAge }}", timedelta(hours=24)),
        ("${{ null }}", None),
        ("  ${{ params.cluster }}\n", "dr-west"),
    ],
)
def test_a_string_that_is_one_expression_keeps_its_type(source: str, expected: Any) -> None:
    """int, bool, list, map, duration and null come back as plain Python, even with surrounding whitespace."""
    assert render(source) == expected


def test_other_strings_interpolate_each_expression_as_text() -> None:
    """Booleans as true/false, durations as 1d, lists as JSON, null as nothing."""
    source = "${{ params.cluster }}:${{ params.live }}:${{ params.maxAge }}:${{ params.namespaces }}:${{ null }}"
    assert render(source) == 'dr-west:true:1d:["a", "b"]:'


def test_times_are_written_in_rfc3339() -> None:
    """A timestamp interpolates as ISO 8601 with Z."""
    assert render("at ${{ run.startedAt }}") == "at 2026-03-01T03:00:00Z"


def test_nested_values_and_mapping_keys_are_rendered() -> None:
    """Expressions anywhere in lists and mappings, keys included; static parts are returned as they are."""
    source = {"namespaceMapping": {"${{ params.cluster }}": "${{ target.namespace }}"}, "wait": True, "n": [1, "x"]}
    assert render(source) == {"namespaceMapping": {"dr-west": "shop-restored"}, "wait": True, "n": [1, "x"]}


def test_a_static_value_is_returned_unchanged() -> None:
    """No expression, nothing to evaluate."""
    template = compile_template({"a": [1, 2]})
    assert (template.is_static, template.render({}), template.references) == (True, {"a": [1, 2]}, frozenset())


def test_references_come_from_the_parse_tree_in_both_forms() -> None:
    """Dotted and indexed access give the same paths; method calls and operators are looked through."""
    template = compile_template(
        {
            "a": "${{ steps['find-backup'].outputs.name }}",
            "b": "${{ steps.restore.status == 'Succeeded' && size(params.namespaces) > 0 }}",
            "c": "${{ run.id }}-${{ target.cluster }}",
            "d": "${{ steps['find-backup'].outputs.name.startsWith('shop') }}",
        }
    )
    assert template.references == {
        ("steps", "find-backup", "outputs", "name"),
        ("steps", "restore", "status"),
        ("params", "namespaces"),
        ("run", "id"),
        ("target", "cluster"),
    }


def test_a_dynamic_index_stops_the_reference_where_it_stops_being_static() -> None:
    """steps[params.x] reads some step: the reference is steps as a whole, plus what the index reads."""
    assert compile_template("${{ steps[params.which].status }}").references == {("steps",), ("params", "which")}


def test_macro_variables_are_not_references() -> None:
    """The x of list.exists(x, …) is a local name, not a context name."""
    assert compile_template("${{ params.namespaces.exists(x, x == 'a') }}").references == {("params", "namespaces")}


def test_reading_an_unknown_gives_an_unknown() -> None:
    """A dry run puts Unknown where a step did not run; what reads it is Unknown, with the reason."""
    context = Context(params=CONTEXT.params, steps={"find-backup": {"outputs": Unknown("steps.find-backup.outputs")}})
    assert render("${{ steps['find-backup'].outputs.name }}", context) == Unknown("steps.find-backup.outputs")
    assert render("backup ${{ steps['find-backup'].outputs.name }}!", context) == Unknown("steps.find-backup.outputs")
    assert render("${{ size(steps['find-backup'].outputs.name) > 3 }}", context) == Unknown("steps.find-backup.outputs")


def test_unknowns_stay_at_the_leaves_they_affect() -> None:
    """Known parts of a mapping are rendered; only the values that read an Unknown are Unknown."""
    context = Context(params=CONTEXT.params, steps={"find-backup": {"outputs": {"name": Unknown("name")}}})
    source = {"cluster": "${{ params.cluster }}", "backup": "${{ steps['find-backup'].outputs.name }}"}
    rendered = render(source, context)
    assert rendered == {"cluster": "dr-west", "backup": Unknown("name")}
    assert contains_unknown(rendered)


def test_an_unknown_beside_the_path_read_does_not_matter() -> None:
    """An Unknown elsewhere in the context does not make an expression unknown."""
    context = Context(params=CONTEXT.params, steps={"a": {"outputs": {"x": 1}}, "b": {"outputs": Unknown("b")}})
    assert render("${{ steps.a.outputs.x + 1 }}", context) == 2


def test_an_unknown_key_makes_the_mapping_unknown() -> None:
    """A mapping whose key is unknown cannot be shown partly."""
    context = Context(params={"ns": Unknown("ns")})
    assert render({"${{ params.ns }}": "x"}, context) == Unknown("ns")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("${{ params.missing }}", '${{ params.missing }}: params has no "missing" (it has: cluster, '),
        ("${{ steps['find-backup'].outputs.nmae }}", 'outputs has no "nmae" (it has: ageSeconds, name)'),
        ("${{ params.replicas + 'x' }}", "${{ params.replicas + 'x' }}: operator + cannot be applied to (int, string)"),
        ("${{ params.replicas / 0 }}", "${{ params.replicas / 0 }}: modulus or divide by zero"),
        ("${{ nope }}", '${{ nope }}: unknown name "nope"; expressions read params, steps, run, target'),
    ],
)
def test_evaluation_errors_name_the_expression(source: str, message: str) -> None:
    """A failing expression raises ExpressionError quoting it, with a reason an author can act on."""
    with pytest.raises(ExpressionError) as raised:
        render(source)
    assert str(raised.value).startswith(message) or message in str(raised.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("${{ params. }}", "${{ params. }}: syntax error at column 7"),
        ("${{ params.x", '"${{ params.x": "${{" is not closed by "}}"'),
        ("${{ }}", "${{  }}: the expression is empty"),
        ({"a": ["${{ 1 + }}"]}, "a[0]: ${{ 1 + }}: syntax error"),
    ],
)
def test_syntax_errors_are_found_when_compiling(source: Any, message: str) -> None:
    """compile_template refuses an expression that does not parse, saying where inside the value."""
    with pytest.raises(ExpressionError) as raised:
        compile_template(source)
    assert str(raised.value).startswith(message)


def test_an_expression_ends_at_the_braces_that_close_it() -> None:
    """Maps inside an expression and "}}" inside string literals do not end it early."""
    assert render("${{ {'a': {'b': params.replicas}} }}") == {"a": {"b": 3}}
    assert render("${{ 'x}}y' + params.cluster }}") == "x}}ydr-west"


def test_a_mapping_key_must_render_to_a_string() -> None:
    """A key expression giving a number is an error naming it."""
    with pytest.raises(ExpressionError, match="a mapping key must be a string, got an integer"):
        render({"${{ params.replicas }}": "x"})


def test_a_plain_mapping_is_accepted_as_context() -> None:
    """render takes a mapping with params, steps, run and target; other names are a programming error."""
    assert compile_template("${{ params.a }}").render({"params": {"a": 1}}) == 1
    with pytest.raises(ValueError, match="unknown context names"):
        compile_template("x").render({"param": {}})


def test_programs_are_compiled_once_per_text() -> None:
    """The same expression text compiles to the same program, so templates are cheap to build."""
    first, second = compile_template("${{ params.replicas * 2 }}"), compile_template("${{ params.replicas * 2 }}")
    assert first._root.program is second._root.program  # type: ignore[attr-defined]


def test_rendering_a_typical_step_takes_well_under_a_millisecond() -> None:
    """The engine's budget is 5 ms per step; references, the common case, skip the interpreter."""
    template = compile_template(
        {
            "cluster": "${{ params.cluster }}",
            "backup": "${{ steps['find-backup'].outputs.name }}",
            "includedNamespaces": ["${{ params.namespaces[0] }}"],
            "namespaceMapping": {"${{ params.namespaces[0] }}": "${{ target.namespace }}"},
            "restorePVs": True,
        }
    )
    rounds = 200
    start = time.perf_counter()
    for _ in range(rounds):
        template.render(Context(params=CONTEXT.params, steps=CONTEXT.steps, target=CONTEXT.target))
    assert (time.perf_counter() - start) / rounds < 0.0005


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (False, "false"), (timedelta(minutes=90), "1h30m"), ({"a": [1]}, '{"a": [1]}'), (1.5, "1.5")],
)
def test_values_are_written_as_text_for_interpolation(value: Any, text: str) -> None:
    """to_text is how an interpolated value reads."""
    assert to_text(value) == text


def test_steps_the_run_never_reached_read_as_not_run() -> None:
    """finally steps and outputs may read any step; one not reached has status NotRun and no outputs."""
    steps = step_states(["find-backup", "restore"], {"find-backup": CONTEXT.steps["find-backup"]})
    assert render("${{ steps['find-backup'].status }}/${{ steps.restore.status }}", Context(steps=steps)) == (
        "Succeeded/NotRun"
    )
