"""The daemon's rotation age check: ``drd_secret_age_seconds`` from the store, and a rotation when ``maxAge`` passed.

Aspects covered: the age is the time since the last successful rotation; a policy older than its maxAge gets a
rotation started and one within it does not; a policy never rotated has no age series and starts nothing (its
real age is unknown to drd); a failed rotation does not count as one, and one that failed lately is not retried
for an hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from drd.daemon.rotations import check_rotation_ages
from drd.metrics import Metrics
from drd.outcomes import Outcome, Phase
from drd.policy.loader import Config
from drd.policy.models.rotation import RotationPolicy
from drd.store import Store, open_store
from tests.metrics.support import value
from tests.policy.builders import API, an_inventory, load, write
from tests.support.clocks import ManualClock

T0 = ManualClock().now()


def a_rotation(name: str, **spec: Any) -> dict[str, Any]:
    body = {
        "source": {"type": "generated"},
        "vault": {"path": f"drd/{name}"},
        "deliver": [{"clusters": ["primary-east"], "namespace": "shop", "secret": name, "keys": {"t": "value"}}],
    } | spec
    return {"apiVersion": API, "kind": "RotationPolicy", "metadata": {"name": name}, "spec": body}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    write(tmp_path, "clusters.yaml", *an_inventory())
    write(
        tmp_path, "rotations.yaml", a_rotation("old", maxAge="1h"), a_rotation("fresh", maxAge="1d"), a_rotation("new")
    )
    return load(tmp_path)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def store(tmp_path: Path, clock: ManualClock) -> Iterator[Store]:
    with open_store(str(tmp_path / "drd.sqlite"), clock=clock) as opened:
        yield opened


def rotated(store: Store, name: str, *, hours_ago: float, phase: Phase = Phase.COMPLETED) -> None:
    at = T0 - timedelta(hours=hours_ago)
    store.create_run(
        kind="rotation", subject=name, trigger="test", parameters={}, phase=phase, started_at=at, finished_at=at
    )


def check(config: Config, store: Store, clock: ManualClock) -> tuple[list[str], CollectorRegistry]:
    registry = CollectorRegistry()
    started: list[str] = []

    def rotate(policy: RotationPolicy) -> Outcome:
        started.append(policy.name)
        return Outcome("rotation", policy.name, Phase.IN_PROGRESS, clock.now(), clock.now(), {})

    check_rotation_ages(config, store, Metrics(registry, clock=clock), rotate=rotate, clock=clock)
    return started, registry


def test_a_policy_past_its_max_age_is_rotated_and_one_within_it_is_not(
    config: Config, store: Store, clock: ManualClock
) -> None:
    """Rotated 2 h ago with maxAge 1h: rotated; 2 h ago with maxAge 1d: not."""
    rotated(store, "old", hours_ago=2)
    rotated(store, "fresh", hours_ago=2)
    started, registry = check(config, store, clock)
    assert started == ["old"]
    assert value(registry, "drd_secret_age_seconds", rotation="fresh") == 7200


def test_a_policy_never_rotated_has_no_age_and_starts_nothing(config: Config, store: Store, clock: ManualClock) -> None:
    """drd does not know how old a credential it never rotated is: no series, no rotation."""
    started, registry = check(config, store, clock)
    assert started == []
    assert value(registry, "drd_secret_age_seconds", rotation="new") is None


def test_a_failed_rotation_does_not_reset_the_age(config: Config, store: Store, clock: ManualClock) -> None:
    """The age runs from the last *successful* rotation, whatever failed since."""
    rotated(store, "old", hours_ago=3)
    rotated(store, "old", hours_ago=1.5, phase=Phase.FAILED)
    started, registry = check(config, store, clock)
    assert started == ["old"]
    assert value(registry, "drd_secret_age_seconds", rotation="old") == 3 * 3600


def test_a_rotation_that_failed_lately_is_not_started_again(config: Config, store: Store, clock: ManualClock) -> None:
    """Past maxAge but its last rotation failed 10 minutes ago: no new one for an hour after that failure."""
    rotated(store, "old", hours_ago=3)
    rotated(store, "old", hours_ago=1 / 6, phase=Phase.FAILED)
    started, _ = check(config, store, clock)
    assert started == []
