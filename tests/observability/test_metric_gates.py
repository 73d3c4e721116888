"""Metric gates against a real Prometheus server: drd's Prometheus client, and ``check.prometheus`` run by the engine.

Prometheus scrapes, every second, a small exporter (prometheus_client) whose gauges the tests set, and a Kubernetes
API emulator's ``/metrics``. Aspects covered: the client returns an instant vector's series with labels, a scalar as
one sample, no data as an empty result and NaN as NaN; invalid PromQL is a permanent error naming the server and the
query; an unreachable server and a 503 are temporary; a range vector is refused; URL credentials go as Basic auth
and are never shown; the emulator's exposition is scraped and queryable. The step passes, fails with its values as
evidence, is inconclusive without data (failing the step, or reported with ``onInconclusive: report``), takes one
sample in a dry run, and fails clearly when no Prometheus is configured.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from drd.clients.prometheus import PrometheusClient, PrometheusRefused, PrometheusUnavailable, Sample
from drd.errors import PermanentError, TemporaryError
from drd.outcomes import Phase
from drd.policy.loader import load_config
from drd.runbooks.assembly import assemble
from drd.runbooks.engine.planner import plan
from drd.runbooks.engine.runner import Engine
from drd.runbooks.steps import default_actions
from drd.sandbox.kube.emulator import KubeEmulator
from drd.settings import PrometheusSettings, Settings
from drd.store import Store
from tests.runbooks.engine.conftest import REQUESTER, runbook, settings, store
from tests.sandbox.fixtures import sandbox
from tests.sandbox.velero.support import eventually
from tests.support.clocks import ManualClock
from tests.support.web import Route, closed_port, web_server

from .prometheus import BINARY, Prometheus

__all__ = ["sandbox", "settings", "store"]

pytestmark = pytest.mark.skipif(
    BINARY is None, reason="prometheus not installed (Debian package `prometheus`; .ci/run installs it)"
)

RATIO = "drd_test_error_ratio"
"""A gauge the tests set: what a gate's query reads."""


@dataclass
class Stack:
    """A running Prometheus, the exporter it scrapes and an emulator it scrapes too."""

    prometheus: Prometheus
    ratio: Gauge
    emulator: KubeEmulator

    def publish(self, value: float, *, series: str = "api") -> None:
        """Set the gauge and wait until Prometheus has scraped that value."""
        self.ratio.labels(instance_name=series).set(value)

        def scraped() -> bool:
            answers = self.prometheus.query(f'{RATIO}{{instance_name="{series}"}}')
            seen = [float(answer["value"][1]) for answer in answers]
            return bool(seen) and (seen[0] == value or (math.isnan(value) and math.isnan(seen[0])))

        eventually(scraped, timeout=30, interval=0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    registry = CollectorRegistry()
    ratio = Gauge(RATIO, "An error ratio the tests set.", ["instance_name"], registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    emulator = KubeEmulator(seed=1).start()
    targets = [f"127.0.0.1:{server.server_port}", emulator.url.removeprefix("http://")]
    prometheus = Prometheus(tmp_path_factory.mktemp("prometheus"), targets, [])
    try:
        yield Stack(prometheus, ratio, emulator)
    finally:
        prometheus.close()
        emulator.stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client(stack: Stack) -> Iterator[PrometheusClient]:
    prometheus = PrometheusClient(stack.prometheus.url)
    yield prometheus
    prometheus.close()


# The client


def test_a_vector_answers_each_series_with_its_labels(stack: Stack, client: PrometheusClient) -> None:
    """Two series of the gauge come back as two samples, labels and values as scraped."""
    stack.publish(0.25, series="a")
    stack.publish(0.5, series="b")
    samples = client.query(f'{RATIO}{{instance_name=~"a|b"}}')
    assert sorted((s.labels["instance_name"], s.labels["job"], s.value) for s in samples) == [
        ("a", "drd", 0.25),
        ("b", "drd", 0.5),
    ]


def test_a_scalar_is_one_sample_without_labels(client: PrometheusClient) -> None:
    """``scalar(…)``-style answers become one unlabelled sample."""
    assert client.query("1 + 1") == (Sample({}, 2.0),)


def test_no_data_is_an_empty_result(client: PrometheusClient) -> None:
    """A metric nobody exports answers an empty vector, not an error."""
    assert client.query("drd_test_no_such_metric") == ()


def test_nan_stays_nan(stack: Stack, client: PrometheusClient) -> None:
    """A NaN scraped (0/0) comes back as NaN, for the gate to judge."""
    stack.publish(math.nan, series="nan")
    (sample,) = client.query(f'{RATIO}{{instance_name="nan"}}')
    assert math.isnan(sample.value)


def test_invalid_promql_is_permanent_and_names_server_and_query(client: PrometheusClient) -> None:
    """Prometheus' 400 bad_data becomes a permanent error naming the server and the query."""
    with pytest.raises(PrometheusRefused) as raised:
        client.query("sum(rate(")
    assert isinstance(raised.value, PermanentError)
    assert raised.value.status == 400
    assert client.url in str(raised.value)
    assert "invalid query 'sum(rate('" in str(raised.value)


def test_a_range_vector_is_refused(client: PrometheusClient) -> None:
    """A gate compares numbers: a matrix answer is a permanent error saying what it got."""
    with pytest.raises(PrometheusRefused, match="returns a matrix"):
        client.query("up[1m]")


def test_an_unreachable_server_is_temporary() -> None:
    """Connection refused is a temporary error naming the server."""
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(PrometheusUnavailable, match="connection refused") as raised:
        PrometheusClient(url, timeout_seconds=2).query("up")
    assert isinstance(raised.value, TemporaryError)
    assert url in str(raised.value)


def test_a_503_is_temporary() -> None:
    """An overloaded Prometheus (503 with its error JSON) is retried later, not a verdict."""
    body = b'{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}'
    with web_server() as web:
        web.routes["/api/v1/query"] = Route(503, body, {"Content-Type": "application/json"})
        with pytest.raises(PrometheusUnavailable, match="timeout: query timed out") as raised:
            PrometheusClient(web.url()).query("up")
    assert raised.value.status == 503


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_shown() -> None:
    """``http://user:pass@host`` authenticates with HTTP Basic; errors name the server without the credentials."""
    with web_server() as web:
        web.routes["/api/v1/query"] = Route(401, b'{"status":"error","errorType":"unauthorized","error":"no"}')
        url = web.url().replace("http://", "http://drd:s3cret@")
        with pytest.raises(PrometheusRefused, match="access refused") as raised:
            PrometheusClient(url).query("up")
        (_, _, headers), *_ = web.requests
    assert {k.lower(): v for k, v in headers.items()}["authorization"] == "Basic ZHJkOnMzY3JldA=="
    assert "s3cret" not in str(raised.value)


def test_the_emulators_metrics_are_scraped(stack: Stack, client: PrometheusClient) -> None:
    """The API emulator's exposition parses in Prometheus: a deprecated API requested shows in the gauge."""
    from drd.clients.kube import KubeClient

    kube = KubeClient.from_api_url(stack.emulator.url, cluster="emu")
    kube.get_path("/apis/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas")
    kube.close()
    query = 'apiserver_requested_deprecated_apis{removed_release="1.32"}'
    (sample,) = eventually(lambda: client.query(query), timeout=30, interval=0.2)
    assert (sample.labels["resource"], sample.labels["version"], sample.value) == ("flowschemas", "v1beta3", 1.0)


# The step, run by the engine

GATE = """
apiVersion: drd.dev/v1
kind: Runbook
metadata: {name: gate}
spec:
  parameters:
    query: {type: string}
    onInconclusive: {type: string, default: fail}
  steps:
    - id: gate
      type: check.prometheus
      with:
        query: "${{ params.query }}"
        passIf: "<= 0.01"
        failIf: "> 0.05"
        samples: 3
        interval: 1m
        onInconclusive: "${{ params.onInconclusive }}"
"""


def engine_for(settings: Settings, store: Store, url: str | None) -> Engine:
    """An engine whose Prometheus is ``url`` (the setting), on a manual clock: the minute between samples is free."""
    configured = replace(settings, prometheus=PrometheusSettings(url=url or ""))
    config = load_config([settings.config.directory])
    return assemble(configured, config, store, identity=REQUESTER, clock=ManualClock()).engine


def run_gate(engine: Engine, store: Store, query: str, **params: str) -> tuple[Phase, dict[str, Any], str | None]:
    """Run the gate runbook; the run's phase, the step's outputs and its error message."""
    run = engine.submit(runbook(GATE), {"query": query, **params}, requested_by=REQUESTER)
    final = engine.execute(run.id)
    step = [s for s in store.steps(run.id) if s.name == "gate"][-1]
    return final.phase, dict(step.outputs or {}), step.error_message


def test_the_step_passes_when_every_sample_passes(stack: Stack, settings: Settings, store: Store) -> None:
    """A ratio of 0.005 meets passIf in all three samples: the run completes with the values as evidence."""
    stack.publish(0.005, series="ok")
    engine = engine_for(settings, store, stack.prometheus.url)
    phase, outputs, _ = run_gate(engine, store, f'{RATIO}{{instance_name="ok"}}')
    assert phase is Phase.COMPLETED
    assert outputs["verdict"] == "passed"
    assert [[value["value"] for value in sample] for sample in outputs["values"]] == [[0.005]] * 3


def test_the_step_fails_when_a_sample_meets_fail_if(stack: Stack, settings: Settings, store: Store) -> None:
    """A ratio of 0.2 fails the step at the first sample, saying which series and threshold."""
    stack.publish(0.2, series="bad")
    engine = engine_for(settings, store, stack.prometheus.url)
    phase, outputs, error = run_gate(engine, store, f'{RATIO}{{instance_name="bad"}}')
    assert phase is Phase.FAILED
    assert outputs["verdict"] == "failed"
    assert error is not None
    assert error.startswith("metric gate failed: sample 1:")
    assert "= 0.2 meets failIf > 0.05" in error


def test_no_data_is_inconclusive_and_fails_the_step(stack: Stack, settings: Settings, store: Store) -> None:
    """An empty result never passes: the step fails saying the verdict is inconclusive."""
    engine = engine_for(settings, store, stack.prometheus.url)
    phase, outputs, error = run_gate(engine, store, "drd_test_no_such_metric")
    assert phase is Phase.FAILED
    assert outputs["verdict"] == "inconclusive"
    assert error == "metric gate inconclusive (not a pass): sample 1: no data (empty result)"


def test_an_inconclusive_verdict_can_be_reported(stack: Stack, settings: Settings, store: Store) -> None:
    """With onInconclusive: report the step succeeds and its verdict says inconclusive, for later steps to read."""
    stack.publish(0.03, series="between")
    engine = engine_for(settings, store, stack.prometheus.url)
    query = f'{RATIO}{{instance_name="between"}}'
    phase, outputs, _ = run_gate(engine, store, query, onInconclusive="report")
    assert phase is Phase.COMPLETED
    assert outputs["verdict"] == "inconclusive"
    assert "neither meets passIf <= 0.01 nor failIf > 0.05" in outputs["reason"]


def test_a_dry_run_takes_one_sample(stack: Stack, settings: Settings, store: Store) -> None:
    """The plan samples once, without waiting, and says so."""
    stack.publish(0.005, series="dry")
    engine = engine_for(settings, store, stack.prometheus.url)
    params = {"query": f'{RATIO}{{instance_name="dry"}}'}
    (entry,) = plan(runbook(GATE), params, env=engine.env, actions=default_actions()).entries
    assert entry.fidelity == "executed"
    assert "verdict=passed" in entry.summary
    assert "dry run, one sample: all 1 sample meet passIf" in entry.summary
    assert store.list_runs() == []


def test_without_prometheus_the_step_says_it_is_not_configured(settings: Settings, store: Store) -> None:
    """No DRD_PROMETHEUS_URL and no url input: the step fails naming the setting."""
    engine = engine_for(settings, store, None)
    phase, _, error = run_gate(engine, store, "up")
    assert phase is Phase.FAILED
    assert error == "Prometheus is not configured: set DRD_PROMETHEUS_URL or give the step a url"


def test_the_setting_is_read_from_the_environment() -> None:
    """DRD_PROMETHEUS_URL is read into settings; empty means not configured."""
    assert Settings.from_env({"DRD_PROMETHEUS_URL": "http://prom:9090"}).prometheus.url == "http://prom:9090"
    assert Settings.from_env({}).prometheus.url == ""
