"""drd_rpo_seconds and drd_objective_met{objective="rpo"}, computed at scrape time.

Aspects: the RPO grows with the clock between scrapes without any update; the
objective flips when the RPO passes it; a policy never backed up is +Inf and
breached; a PartiallyFailed backup counted toward the RPO is visible as such;
the series follow what the provider returns (so a reload removes them); a
failing provider serves its last samples and counts the error; drd_objective_met
appears once per label set, rpo from the collector and the others pushed; a
scrape of 500 policies works.
"""

from __future__ import annotations

import math
from datetime import timedelta

from structlog.testing import capture_logs

from drd.metrics import Metrics, RpoSample
from drd.outcomes import Phase
from tests.store.support import T0

from .support import backup_policy, drill_policy, label_sets, samples, scrape, value

HOUR = timedelta(hours=1)


def test_rpo_grows_with_the_clock_and_the_objective_flips_when_passed(registry, metrics, clock):
    """Nothing updates a gauge: each scrape computes now − newest good backup, against the objective."""
    policy = backup_policy(rpo="2h")
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(policy, T0)])

    clock.advance(3600)
    assert value(registry, "drd_rpo_seconds", policy="shop") == 3600.0
    assert value(registry, "drd_objective_met", policy="shop", objective="rpo") == 1.0

    clock.advance(3601)
    assert value(registry, "drd_rpo_seconds", policy="shop") == 7201.0
    assert value(registry, "drd_objective_met", policy="shop", objective="rpo") == 0.0


def test_rpo_at_exactly_the_objective_is_met(registry, metrics, clock):
    """An RPO equal to its objective is still within it."""
    metrics.set_rpo_provider(lambda: [RpoSample("shop", 7200, T0)])
    clock.advance(7200)
    assert value(registry, "drd_objective_met", policy="shop", objective="rpo") == 1.0


def test_a_policy_never_backed_up_is_infinitely_old_and_breached(registry, metrics):
    """+Inf (not NaN): `drd_rpo_seconds > drd_rpo_objective_seconds` and `objective_met == 0` both alert."""
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(backup_policy(), None)])
    rpo = value(registry, "drd_rpo_seconds", policy="shop")
    assert rpo is not None
    assert math.isinf(rpo)
    assert rpo > 0
    assert value(registry, "drd_objective_met", policy="shop", objective="rpo") == 0.0


def test_a_backup_completed_in_the_future_counts_as_zero_age(registry, metrics):
    """Clock skew between Velero and drd never yields a negative RPO."""
    metrics.set_rpo_provider(lambda: [RpoSample("shop", 7200, T0 + HOUR)])
    assert value(registry, "drd_rpo_seconds", policy="shop") == 0.0


def test_partially_failed_backup_counted_toward_rpo_is_visible(registry, metrics):
    """With countPartiallyFailed, the RPO may come from a PartiallyFailed backup, and says so."""
    metrics.set_rpo_provider(
        lambda: [RpoSample("shop", 7200, T0, partially_failed=True), RpoSample("catalog", 7200, T0)]
    )
    assert value(registry, "drd_rpo_backup_partially_failed", policy="shop") == 1.0
    assert value(registry, "drd_rpo_backup_partially_failed", policy="catalog") == 0.0


def test_rpo_series_follow_the_provider_so_a_removed_policy_disappears(registry, metrics):
    """The provider returns the loaded policies; after a reload without one, its RPO series is gone."""
    loaded = [backup_policy("shop"), backup_policy("catalog")]
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(policy, T0) for policy in loaded])
    assert {"shop", "catalog"} == {dict(labels)["policy"] for labels in label_sets(registry, "drd_rpo_seconds")}
    loaded.pop()
    assert {"shop"} == {dict(labels)["policy"] for labels in label_sets(registry, "drd_rpo_seconds")}


def test_rpo_survives_a_restart_because_it_comes_from_the_store(registry, clock):
    """A new Metrics (a restarted daemon) over the same records reports the same, still growing, RPO."""
    records = {"shop": T0}
    provider = lambda: [RpoSample("shop", 7200, records["shop"])]  # noqa: E731 - the store, in a lambda
    Metrics(registry, rpo_provider=provider, clock=clock)
    clock.advance(5000)
    assert value(registry, "drd_rpo_seconds", policy="shop") == 5000.0


def test_a_failing_provider_serves_the_last_samples_and_counts_the_error(registry, metrics, clock):
    """A database hiccup neither hides the RPO nor fakes a breach; the RPO keeps growing from the cached record."""
    state = {"fail": False}

    def provider() -> list[RpoSample]:
        if state["fail"]:
            raise ConnectionError("database went away")
        return [RpoSample("shop", 7200, T0)]

    metrics.set_rpo_provider(provider)
    assert value(registry, "drd_rpo_seconds", policy="shop") == 0.0
    state["fail"] = True
    clock.advance(600)
    with capture_logs() as logs:
        assert value(registry, "drd_rpo_seconds", policy="shop") == 600.0
    assert [entry["event"] for entry in logs] == ["rpo_provider_failed"]
    assert value(registry, "drd_rpo_provider_errors_total") == 1.0


def test_a_provider_that_fails_from_the_start_yields_no_rpo_but_the_scrape_works(registry, metrics):
    """Without any good answer yet there is nothing to serve; the rest of the exposition is intact."""

    def provider() -> list[RpoSample]:
        raise RuntimeError("no store")

    metrics.set_rpo_provider(provider)
    with capture_logs():
        families = scrape(registry)
    assert families["drd_rpo_seconds"].samples == []
    assert "drd_leader" in families


def test_objective_met_is_one_family_with_rpo_computed_and_drill_objectives_pushed(registry, metrics):
    """rpo comes only from the collector, rto/drill_freshness only from the daemon: no label set twice."""
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(backup_policy("shop"), T0)])
    metrics.set_policies([backup_policy("shop")], [drill_policy("shop-nightly")])
    metrics.observe_backup(policy="shop", cluster="primary-east", phase=Phase.COMPLETED, started=T0, completed=T0)

    met = samples(registry, "drd_objective_met")  # `samples` fails on a repeated label set
    assert {
        ("shop", "rpo"),
        ("shop-nightly", "rto"),
        ("shop-nightly", "drill_freshness"),
    } == {(dict(labels)["policy"], dict(labels)["objective"]) for labels in met}
    assert "drd_objective_met" in scrape(registry)  # `scrape` fails on a repeated family


def test_scrape_of_500_policies_has_every_series(registry, metrics):
    """100 clusters × 5 policies: every policy has its RPO, objective and runs (timing: benchmarks/)."""
    policies = [backup_policy(f"app-{c}-{p}", cluster=f"cluster-{c}", rpo="2h") for c in range(100) for p in range(5)]
    metrics.set_policies(policies, [])
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(policy, T0) for policy in policies])
    families = scrape(registry)
    assert len(families["drd_rpo_seconds"].samples) == 500
    assert len(families["drd_rpo_objective_seconds"].samples) == 500
    assert len([s for s in families["drd_backup_runs"].samples if s.name == "drd_backup_runs_total"]) == 2000
    assert sum(s.value for s in families["drd_objective_met"].samples) == 500
