"""Metric gates: a PromQL query sampled ``samples`` times, ``interval`` apart, judged against pass and fail thresholds.

The verdict follows Argo Rollouts' analysis (Successful / Failed /
Inconclusive), which continue, abort or pause a rollout:

- ``failed``: any value of any sample satisfies ``failIf`` (one bad sample is enough);
- ``passed``: every sample was taken, has data, and every series in it satisfies ``passIf``;
- ``inconclusive``: anything else: an empty vector (no data), ``NaN``, a value between the
  thresholds, fewer samples than asked for. Never a pass without data: a near-idle canary
  whose error ratio is ``0/0`` must not wave an upgrade through.

:func:`evaluate` is pure (table-tested); :func:`measure` takes the samples with an
injected clock and stops early once the verdict can only be ``failed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from drd.clients.prometheus import Sample
from drd.clock import Clock
from drd.policy.models.upgrade import Condition


class Verdict(StrEnum):
    """How a metric gate ended."""

    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class GateResult:
    """The verdict, why (one sentence naming the sample and series that decided it) and every value seen."""

    verdict: Verdict
    reason: str
    samples: tuple[tuple[Sample, ...], ...]
    """Each measurement's series, in the order taken."""

    def values(self) -> list[list[dict[str, Any]]]:
        """The values per sample as JSON-safe data: ``[[{"series": "{…}", "value": 0.01}], …]`` (NaN as ``"NaN"``)."""
        return [[{"series": s.series, "value": json_number(s.value)} for s in taken] for taken in self.samples]


def json_number(value: float) -> float | str:
    """``value``, or ``"NaN"``, ``"+Inf"``, ``"-Inf"`` (JSON has no such numbers), as Prometheus writes them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def evaluate(taken: Sequence[Sequence[Sample]], *, pass_if: Condition, fail_if: Condition, samples: int) -> GateResult:
    """The verdict of ``taken`` measurements out of ``samples`` asked for (see the module docstring)."""
    recorded = tuple(tuple(measurement) for measurement in taken)
    for index, measurement in enumerate(recorded, start=1):
        for sample in measurement:
            if not math.isnan(sample.value) and fail_if.holds(sample.value):
                reason = f"sample {index}: {_shown(sample)} meets failIf {fail_if}"
                return GateResult(Verdict.FAILED, reason, recorded)
    for index, measurement in enumerate(recorded, start=1):
        if not measurement:
            return GateResult(Verdict.INCONCLUSIVE, f"sample {index}: no data (empty result)", recorded)
        for sample in measurement:
            if math.isnan(sample.value):
                return GateResult(Verdict.INCONCLUSIVE, f"sample {index}: {_shown(sample)} is not a number", recorded)
            if not pass_if.holds(sample.value):
                reason = f"sample {index}: {_shown(sample)} neither meets passIf {pass_if} nor failIf {fail_if}"
                return GateResult(Verdict.INCONCLUSIVE, reason, recorded)
    if len(recorded) < samples:
        reason = f"only {len(recorded)} of {samples} samples taken"
        return GateResult(Verdict.INCONCLUSIVE, reason, recorded)
    count = f"{samples} sample{'s' if samples != 1 else ''}"
    return GateResult(Verdict.PASSED, f"all {count} meet passIf {pass_if}", recorded)


def measure(
    query: Callable[[], Sequence[Sample]],
    *,
    pass_if: Condition,
    fail_if: Condition,
    samples: int,
    interval_seconds: float,
    clock: Clock,
) -> GateResult:
    """Take ``samples`` measurements with ``query``, sleeping ``interval_seconds`` on ``clock`` between them.

    Stops at the first sample meeting ``failIf`` (the verdict cannot change).
    Errors of ``query`` (Prometheus unreachable, an invalid query) propagate:
    they are not a verdict.
    """
    taken: list[Sequence[Sample]] = []
    for index in range(samples):
        if index:
            clock.sleep(interval_seconds)
        taken.append(query())
        result = evaluate(taken, pass_if=pass_if, fail_if=fail_if, samples=samples)
        if result.verdict is Verdict.FAILED:
            return result
    return evaluate(taken, pass_if=pass_if, fail_if=fail_if, samples=samples)


def _shown(sample: Sample) -> str:
    value = json_number(sample.value)
    return f"{sample.series} = {value:g}" if isinstance(value, float) else f"{sample.series} = {value}"
