"""Binding parameters: ``-p name=value`` strings (or typed values) in, typed values out, every problem at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from drd.runbooks.spec.models import Runbook
from drd.runbooks.spec.parameters import ParameterError, bind

from .builders import a_runbook, load

PARAMETERS: dict[str, Any] = {
    "application": {"type": "string", "required": True, "pattern": "^[a-z0-9-]+$"},
    "backup": {"type": "string", "default": "latest"},
    "replicas": {"type": "integer", "default": 1, "minimum": 0, "maximum": 50},
    "dryRunOnly": {"type": "boolean", "default": False},
    "maxAge": {"type": "duration", "default": "24h", "maximum": "7d"},
    "mode": {"type": "enum", "values": ["side-by-side", "in-place"], "default": "side-by-side"},
    "namespaces": {"type": "list", "items": "string", "default": []},
    "ports": {"type": "list", "items": "integer", "default": [80]},
    "token": {"type": "string", "secret": True},
}


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return load(a_runbook(parameters=PARAMETERS))


def test_defaults_fill_what_is_not_given(runbook: Runbook) -> None:
    """Only the required parameter is given; the others take their defaults, typed; absent optional ones are None."""
    assert dict(bind(runbook, {"application": "shop"}).values) == {
        "application": "shop",
        "backup": "latest",
        "replicas": 1,
        "dryRunOnly": False,
        "maxAge": timedelta(hours=24),
        "mode": "side-by-side",
        "namespaces": (),
        "ports": (80,),
        "token": None,
    }


def test_command_line_strings_are_coerced_to_the_declared_types(runbook: Runbook) -> None:
    """-p replicas=3, -p dryRunOnly=true, -p maxAge=6h, -p namespaces=a,b give an int, a bool, a duration, a list."""
    given = {"application": "shop", "replicas": "3", "dryRunOnly": "TRUE", "maxAge": "6h", "namespaces": "a, b"}
    bound = bind(runbook, given | {"ports": "80,8080"})
    assert (bound["replicas"], bound["dryRunOnly"], bound["maxAge"]) == (3, True, timedelta(hours=6))
    assert (bound["namespaces"], bound["ports"]) == (("a", "b"), (80, 8080))


def test_typed_values_from_an_api_are_accepted(runbook: Runbook) -> None:
    """Callers that already hold typed values pass them as they are."""
    bound = bind(runbook, {"application": "shop", "replicas": 7, "dryRunOnly": True, "namespaces": ["x"]})
    assert (bound["replicas"], bound["dryRunOnly"], bound["namespaces"]) == (7, True, ("x",))


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"replicas": "three"}, 'replicas: expected an integer, got "three"'),
        ({"replicas": "51"}, "replicas: must be at most 50, got 51"),
        ({"replicas": "-1"}, "replicas: must be at least 0, got -1"),
        ({"dryRunOnly": "yes"}, 'dryRunOnly: expected true or false, got "yes"'),
        ({"maxAge": "8d"}, "maxAge: must be at most 7d, got 8d"),
        ({"maxAge": "1.5h"}, 'maxAge: invalid duration "1.5h"'),
        ({"mode": "sideways"}, 'mode: "sideways" is not one of: side-by-side, in-place'),
        ({"application": "Shop"}, 'application: "Shop" does not match ^[a-z0-9-]+$'),
        ({"ports": "80,http"}, 'ports: expected an integer, got "http"'),
        ({"backup": 3}, "backup: expected a string, got 3"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_with_the_accepted_form(
    runbook: Runbook, given: dict[str, Any], problem: str
) -> None:
    """Each rule of the parameter's type is checked and named."""
    with pytest.raises(ParameterError) as raised:
        bind(runbook, {"application": "shop"} | given)
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith(problem)


def test_every_problem_is_reported_at_once(runbook: Runbook) -> None:
    """A missing required parameter, an unknown name and a bad value are reported together, in one error."""
    with pytest.raises(ParameterError) as raised:
        bind(runbook, {"replica": "3", "mode": "x"})
    assert raised.value.problems == (
        "replica: unknown parameter; restore-app takes: application, backup, replicas, dryRunOnly, maxAge, mode, "
        "namespaces, ports, token",
        "application: required; a string matching ^[a-z0-9-]+$",
        'mode: "x" is not one of: side-by-side, in-place',
    )
    assert str(raised.value).startswith("runbook restore-app: replica: unknown parameter")


def test_a_secret_is_redacted_and_its_value_never_appears_in_messages(runbook: Runbook) -> None:
    """redacted() masks secret values; a secret failing a pattern is not quoted."""
    bound = bind(runbook, {"application": "shop", "token": "s3cr3t", "maxAge": "90m"})
    assert bound.redacted()["token"] == "<redacted>"
    assert bound.redacted()["maxAge"] == "1h30m"
    assert bound.secrets == {"token"}
    secret = load(a_runbook(parameters={"token": {"type": "string", "secret": True, "pattern": "^t"}}))
    with pytest.raises(ParameterError) as raised:
        bind(secret, {"token": "s3cr3t"})
    assert "s3cr3t" not in str(raised.value)


def test_redacted_values_bind_again(runbook: Runbook) -> None:
    """A stored run's non-secret parameters (JSON: durations as text, lists as lists) bind to the same values."""
    bound = bind(runbook, {"application": "shop", "namespaces": "a,b", "maxAge": "2h"})
    stored = {name: value for name, value in bound.redacted().items() if value is not None}
    assert bind(runbook, stored) == bound


def test_an_empty_list_on_the_command_line_is_an_empty_list(runbook: Runbook) -> None:
    """-p namespaces= gives no namespaces, not one empty name."""
    assert bind(runbook, {"application": "shop", "namespaces": ""})["namespaces"] == ()
