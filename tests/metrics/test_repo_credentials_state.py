"""``drd_velero_repo_credentials_state``: one series per cluster and state, 1 for the state the cluster is in.

Aspects: the current state is 1 and the others 0; a cluster left out, or gone from the inventory, loses its
series; an unknown state is refused; the metric's states are exactly the states the escrow reports.
"""

from __future__ import annotations

import pytest

from drd.metrics import Metrics
from drd.metrics.recorder import REPO_CREDENTIALS_STATES
from drd.operations.repo_escrow import CredentialState

from .support import samples, value

NAME = "drd_velero_repo_credentials_state"


def test_the_current_state_is_one_and_the_others_zero(registry, metrics: Metrics) -> None:
    """A drifting cluster has drift at 1 and each other state at 0."""
    metrics.set_repo_credentials_states({"dr-west": "drift", "primary-east": "match"})
    assert value(registry, NAME, cluster="dr-west", state="drift") == 1
    assert value(registry, NAME, cluster="dr-west", state="match") == 0
    assert value(registry, NAME, cluster="primary-east", state="match") == 1
    assert len(samples(registry, NAME)) == 2 * len(REPO_CREDENTIALS_STATES)
    assert sum(samples(registry, NAME).values()) == 2


def test_a_cluster_left_out_or_gone_from_the_inventory_loses_its_series(registry, metrics: Metrics) -> None:
    """Setting the states without a cluster, or a reload without it, removes that cluster's series."""
    metrics.set_repo_credentials_states({"a": "match", "b": "seeded", "c": "unreachable"})
    metrics.set_repo_credentials_states({"a": "match", "b": "match"})
    metrics.set_clusters(["a"])
    assert value(registry, NAME, cluster="c", state="unreachable") is None
    assert value(registry, NAME, cluster="b", state="match") is None
    assert value(registry, NAME, cluster="a", state="match") == 1


def test_an_unknown_state_is_refused(metrics: Metrics) -> None:
    """A state outside the closed set would be an unbounded label: ValueError naming the allowed ones."""
    with pytest.raises(ValueError, match="unknown repo-credentials state"):
        metrics.set_repo_credentials_states({"a": "broken"})


def test_the_metric_knows_every_state_the_escrow_reports() -> None:
    """The metrics layer's state list (it may not import the operation) equals CredentialState's values."""
    assert tuple(state.value for state in CredentialState) == REPO_CREDENTIALS_STATES
