"""Metric gates judged over plain samples: passed, failed, inconclusive (never a pass without data).

Aspects covered: every series of every sample must meet passIf; any value meeting failIf fails, whatever came
before or after; an empty vector, NaN, a value between the thresholds or too few samples are inconclusive; the
values seen are kept per sample, JSON-safe; sampling sleeps on the injected clock and stops at a failure.
"""

from __future__ import annotations

import math

import pytest

from drd.clients.prometheus import Sample
from drd.operations import metric_gate
from drd.operations.metric_gate import Verdict
from drd.policy.models.upgrade import Comparison, Condition
from tests.support.clocks import ManualClock

PASS_IF = Condition(Comparison.LE, 0.01)
FAIL_IF = Condition(Comparison.GT, 0.05)
NAN = math.nan


def vector(*values: float, label: str = "instance") -> tuple[Sample, ...]:
    """One sample per value, told apart by a label."""
    return tuple(Sample({label: f"i{index}"}, value) for index, value in enumerate(values))


@pytest.mark.parametrize(
    ("taken", "samples", "verdict", "reason"),
    [
        pytest.param([vector(0.0), vector(0.01), vector(0.005)], 3, Verdict.PASSED, "all 3 samples", id="all pass"),
        pytest.param([vector(0.001, 0.002)] * 2, 2, Verdict.PASSED, "all 2 samples", id="every series passes"),
        pytest.param([vector(0.0), vector(0.2), vector(0.0)], 3, Verdict.FAILED, "sample 2", id="one sample fails"),
        pytest.param([vector(0.0, 0.06)], 1, Verdict.FAILED, 'instance="i1"} = 0.06', id="one series fails"),
        pytest.param([(), vector(0.3)], 2, Verdict.FAILED, "meets failIf > 0.05", id="failure beats no data"),
        pytest.param([vector(0.0), ()], 2, Verdict.INCONCLUSIVE, "sample 2: no data", id="empty vector"),
        pytest.param([vector(NAN)], 1, Verdict.INCONCLUSIVE, "= NaN is not a number", id="NaN (0/0)"),
        pytest.param([vector(0.03)], 1, Verdict.INCONCLUSIVE, "neither meets passIf", id="between thresholds"),
        pytest.param([vector(0.0, 0.03)], 1, Verdict.INCONCLUSIVE, 'instance="i1"', id="one series in between"),
        pytest.param([vector(0.0)], 3, Verdict.INCONCLUSIVE, "only 1 of 3 samples", id="too few samples"),
        pytest.param([], 1, Verdict.INCONCLUSIVE, "only 0 of 1", id="nothing taken"),
    ],
)
def test_the_verdict_follows_argo_semantics(
    taken: list[tuple[Sample, ...]], samples: int, verdict: Verdict, reason: str
) -> None:
    """Passed needs data meeting passIf everywhere; any failIf value fails; everything else is inconclusive."""
    result = metric_gate.evaluate(taken, pass_if=PASS_IF, fail_if=FAIL_IF, samples=samples)
    assert result.verdict is verdict
    assert reason in result.reason


@pytest.mark.parametrize(
    ("value", "pass_if", "fail_if", "verdict"),
    [
        pytest.param(0.99, Condition(Comparison.GE, 0.99), Condition(Comparison.LT, 0.95), Verdict.PASSED, id="ge"),
        pytest.param(0.95, Condition(Comparison.GE, 0.99), Condition(Comparison.LT, 0.95), Verdict.INCONCLUSIVE,
                     id="gap"),
        pytest.param(0.9, Condition(Comparison.GE, 0.99), Condition(Comparison.LT, 0.95), Verdict.FAILED, id="lt"),
        pytest.param(math.inf, PASS_IF, FAIL_IF, Verdict.FAILED, id="+Inf fails"),
    ],
)  # fmt: skip
def test_conditions_compare_as_written(value: float, pass_if: Condition, fail_if: Condition, verdict: Verdict) -> None:
    """The operators of passIf and failIf apply to each value, infinities included."""
    result = metric_gate.evaluate([vector(value)], pass_if=pass_if, fail_if=fail_if, samples=1)
    assert result.verdict is verdict


def test_values_are_kept_per_sample_as_json_safe_data() -> None:
    """The evidence lists every series of every sample; NaN and infinities are written as Prometheus writes them."""
    result = metric_gate.evaluate([vector(0.0), vector(NAN, math.inf)], pass_if=PASS_IF, fail_if=FAIL_IF, samples=2)
    assert result.values() == [
        [{"series": '{instance="i0"}', "value": 0.0}],
        [{"series": '{instance="i0"}', "value": "NaN"}, {"series": '{instance="i1"}', "value": "+Inf"}],
    ]


def test_sampling_waits_on_the_clock_between_samples() -> None:
    """Three samples one minute apart: two sleeps on the injected clock, three queries."""
    clock = ManualClock()
    queried: list[float] = []

    def query() -> tuple[Sample, ...]:
        queried.append(clock.monotonic())
        return vector(0.0)

    result = metric_gate.measure(query, pass_if=PASS_IF, fail_if=FAIL_IF, samples=3, interval_seconds=60, clock=clock)
    assert result.verdict is Verdict.PASSED
    assert queried == [0.0, 60.0, 120.0]


def test_sampling_stops_at_the_first_failing_sample() -> None:
    """Once a sample meets failIf the verdict cannot change, so no further sample is taken."""
    answers = iter([vector(0.0), vector(0.5), vector(0.0)])
    result = metric_gate.measure(
        lambda: next(answers), pass_if=PASS_IF, fail_if=FAIL_IF, samples=3, interval_seconds=60, clock=ManualClock()
    )
    assert (result.verdict, len(result.samples)) == (Verdict.FAILED, 2)
