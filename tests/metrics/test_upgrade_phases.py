"""``drd_upgrade_cluster_phase``: one series per plan, cluster and phase, 1 for the phase the cluster is in.

Aspects: the current phase is 1 and every other phase 0; a cluster no longer in the plan loses its series while
another plan's stay; the metric's phases are exactly the phases the upgrade workflow reports.
"""

from __future__ import annotations

from drd.metrics import Metrics
from drd.metrics.vocabulary import UPGRADE_PHASES
from drd.upgrades.progress import PHASES

from .support import samples, value

NAME = "drd_upgrade_cluster_phase"


def test_the_current_phase_is_one_and_the_others_zero(registry, metrics: Metrics) -> None:
    """A cluster in node_groups has node_groups at 1 and each other phase at 0."""
    metrics.set_upgrade_phases("to-1-32", {"canary-east": "node_groups", "dr-west": "pending"})
    assert value(registry, NAME, plan="to-1-32", cluster="canary-east", phase="node_groups") == 1
    assert value(registry, NAME, plan="to-1-32", cluster="canary-east", phase="pending") == 0
    assert value(registry, NAME, plan="to-1-32", cluster="dr-west", phase="pending") == 1
    ones = [key for key, number in samples(registry, NAME).items() if number == 1]
    assert len(ones) == 2


def test_a_cluster_left_out_loses_its_series_and_other_plans_keep_theirs(registry, metrics: Metrics) -> None:
    """Setting a plan's phases again without a cluster removes that cluster's series only."""
    metrics.set_upgrade_phases("a", {"canary-east": "done", "dr-west": "halted"})
    metrics.set_upgrade_phases("b", {"dr-west": "done"})
    metrics.set_upgrade_phases("a", {"canary-east": "done"})
    assert value(registry, NAME, plan="a", cluster="dr-west", phase="halted") is None
    assert value(registry, NAME, plan="b", cluster="dr-west", phase="done") == 1


def test_the_metric_knows_every_phase_the_workflow_reports() -> None:
    """The metrics layer's phase list (it may not import the workflow) equals the workflow's."""
    assert UPGRADE_PHASES == PHASES
