"""drd's ``/metrics`` encoder writes what prometheus-client's own encoders write, for the same registry.

Aspects: for every ``Accept`` header Prometheus and plain clients send, the body
is byte-for-byte prometheus-client's (``choose_encoder``), with and without
``*_created``, including awkward label values and values (+Inf, NaN, 1e+22);
parsed back, the families and samples are the same; ``promtool check metrics``
accepts the text format (when installed); the fast path is what is negotiated
for those headers, and prometheus-client's own encoder for the escapings it
does not reproduce; series that change, appear or disappear between scrapes
show up (the per-series cache never serves a stale value); other collectors,
exemplars, function gauges, a failing render and ``name[]`` restriction go
through prometheus-client's encoder for their family; one RPO provider call
per scrape.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as ClientCounter
from prometheus_client import Gauge as ClientGauge
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text
from structlog.testing import capture_logs

from drd.metrics import Metrics, RpoSample
from drd.metrics.exposition import Format, RenderedFamily, encode, negotiate
from drd.metrics.families import Counter, Gauge, Histogram, created_enabled
from drd.outcomes import Phase
from tests.store.support import T0, ManualClock

from .support import backup_policy, drill_policy, populate

PLAIN = ""
PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
PROMETHEUS_3 = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)
TEXT_1 = "text/plain;version=1.0.0;escaping=underscores"
OPENMETRICS_UNDERSCORES = "application/openmetrics-text;version=1.0.0;escaping=underscores"
FAST_HEADERS = [PLAIN, PROMETHEUS_2, PROMETHEUS_3, TEXT_1, OPENMETRICS_UNDERSCORES]
FAST_IDS = ["plain", "prometheus-2", "prometheus-3", "text-1.0.0", "openmetrics-underscores"]


@pytest.fixture(params=[True, False], ids=["created", "no-created"])
def created(request: pytest.FixtureRequest) -> Iterator[bool]:
    """Run with prometheus-client's ``*_created`` series on, then off (as the daemon runs); restore after."""
    before = created_enabled()
    if request.param:
        prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]
    else:
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    yield request.param
    if before:
        prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]
    else:
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


@pytest.fixture
def busy(registry: CollectorRegistry, metrics: Metrics, created: bool) -> CollectorRegistry:
    """Every metric populated, several policies in every state, awkward label values and values."""
    populate(metrics)
    policies = [backup_policy("shop"), backup_policy("never-backed-up", cluster="primary-west")]
    policies += [backup_policy(f"app-{n}", cluster=f"c{n % 2}") for n in range(4)]
    drills = [drill_policy("shop-nightly"), drill_policy("app-0-weekly", target="dr-east")]
    samples = [
        RpoSample.for_policy(policy, None if policy.name == "never-backed-up" else T0, partially_failed=n == 2)
        for n, policy in enumerate(policies)
    ]
    metrics.set_rpo_provider(lambda: samples)
    metrics.set_policies(policies, drills)
    for n, policy in enumerate(policies[2:]):
        metrics.observe_backup(
            policy=policy.name,
            cluster=policy.spec.cluster,
            phase=[Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED][n % 3],
            started=T0,
            completed=T0.replace(second=n * 7),
        )
    metrics.set_objective_met("app-0-weekly", "drill_freshness", True)
    metrics.set_config_errors({'policies/"quoted" \\ back\nslash.yaml': 1, "policies/ünïcode.yaml": 3})
    i = metrics.instruments
    i.secret_age_seconds.labels("huge").set(1e22)
    i.secret_age_seconds.labels("tiny").set(1.5e-05)
    i.secret_age_seconds.labels("nan").set(math.nan)
    i.secret_age_seconds.labels("minus-inf").set(-math.inf)
    i.secret_age_seconds.labels("negative").set(-3)
    i.secret_age_seconds.labels("big-int").set(123456789)
    i.secret_age_seconds.labels("minus-zero").set(-0.0)
    i.runbook_step_duration_seconds.labels("failover", "wait").observe(4000)  # above the last bucket
    return registry


@pytest.mark.parametrize("accept", FAST_HEADERS, ids=FAST_IDS)
def test_the_body_is_byte_for_byte_prometheus_clients(busy, clock, accept):
    """What /metrics answers each client with is exactly what prometheus-client's encoder would write."""
    reference, reference_type = choose_encoder(accept)
    fast, content_type = negotiate(accept)
    assert content_type == reference_type
    assert fast(busy).decode() == reference(busy).decode()
    clock.advance(37.25)  # the RPO moved; the rendered rows follow
    assert fast(busy).decode() == reference(busy).decode()


def _comparable(families: Any) -> dict[str, tuple[str, str, set[tuple[str, frozenset[tuple[str, str]], str]]]]:
    """name → (type, help, {(sample name, labels, value as text)}): NaN compares equal to NaN this way."""
    found = {}
    for family in families:
        samples = {(s.name, frozenset(s.labels.items()), repr(float(s.value))) for s in family.samples}
        found[family.name] = (family.type, family.documentation, samples)
    return found


def test_parsed_back_the_text_has_the_same_families_and_samples(busy):
    """Parsed by prometheus-client's parser, drd's text and generate_latest's hold the same families and values."""
    ours = _comparable(parse_text(encode(busy, Format.TEXT).decode()))
    theirs = _comparable(parse_text(generate_latest(busy).decode()))
    assert ours == theirs
    assert {"drd_rpo_seconds", "drd_objective_met", "drd_backup_duration_seconds", "drd_config_errors"} <= set(ours)
    rpo = {dict(labels)["policy"]: value for _, labels, value in ours["drd_rpo_seconds"][2]}
    assert rpo["never-backed-up"] == "inf"


def test_parsed_back_the_openmetrics_has_the_same_families_and_samples(busy):
    """The OpenMetrics parser reads drd's OpenMetrics body as it reads prometheus-client's."""
    encoder, _ = choose_encoder(PROMETHEUS_3)
    ours = _comparable(parse_openmetrics(encode(busy, Format.OPENMETRICS, "allow-utf-8").decode()))
    theirs = _comparable(parse_openmetrics(encoder(busy).decode()))
    assert ours == theirs


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_accepts_the_text_format(busy):
    """``promtool check metrics`` (Prometheus' own parser and linter) finds nothing to say."""
    checked = subprocess.run(
        ["promtool", "check", "metrics"],
        input=encode(busy, Format.TEXT),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b"")


@pytest.mark.parametrize("accept", FAST_HEADERS, ids=FAST_IDS)
def test_the_fast_encoder_is_negotiated_for_prometheus_and_plain_clients(accept):
    """Plain clients, Prometheus 2 and 3 get drd's encoder (the one that needs no Sample per line)."""
    encoder, _ = negotiate(accept)
    assert getattr(encoder, "func", None) is encode


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text;version=1.0.0;escaping=dots",
        "application/openmetrics-text;version=1.0.0;escaping=values",
        "text/plain;version=1.0.0;escaping=dots",
        "application/openmetrics-text;version=2.0.0",
    ],
    ids=["openmetrics-dots", "openmetrics-values", "text-dots", "openmetrics-2"],
)
def test_other_escapings_and_versions_get_prometheus_clients_encoder(busy, accept):
    """Where names would be rewritten (dots, values) or the version differs, prometheus-client writes it all."""
    reference, reference_type = choose_encoder(accept)
    encoder, content_type = negotiate(accept)
    assert content_type == reference_type
    assert (encoder.func, encoder.args, encoder.keywords) == (reference.func, reference.args, reference.keywords)
    assert encoder(busy) == reference(busy)


@pytest.mark.parametrize("fmt", list(Format))
def test_changed_new_and_removed_series_show_up_at_the_next_scrape(registry, metrics, clock, created, fmt):
    """The per-series cache re-renders a series whose values changed; new and removed series follow the registry."""
    reference = _reference(fmt)
    shop, other = backup_policy("shop"), backup_policy("other", cluster="primary-west")
    metrics.set_rpo_provider(lambda: [RpoSample.for_policy(shop, T0)])
    metrics.set_policies([shop, other], [])
    assert encode(registry, fmt) == reference(registry)
    for seconds in (30, 30, 400):  # the same value twice: a changed count, an unchanged bucket text
        metrics.observe_backup(
            policy="shop",
            cluster="primary-east",
            phase=Phase.COMPLETED,
            started=T0,
            completed=T0.replace(second=0, minute=seconds // 60, microsecond=seconds % 60),
        )
        assert encode(registry, fmt) == reference(registry)
    metrics.set_policies([shop], [drill_policy()])  # "other" removed, a drill policy added
    assert encode(registry, fmt) == reference(registry)
    assert b'policy="other"' not in encode(registry, fmt)
    metrics.instruments.leader.set(1)
    metrics.instruments.rpo_provider_errors_total.inc()
    assert encode(registry, fmt) == reference(registry)


def _reference(fmt: Format) -> Any:
    return choose_encoder(PLAIN if fmt is Format.TEXT else PROMETHEUS_2)[0]


class _Foreign:
    """A collector that is not drd's: its families are plain prometheus-client Metrics."""

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("foreign_value", "A third-party gauge.", labels=["weird"])
        family.add_metric(['a "b" \\ c'], 1.5)
        yield family


@pytest.mark.parametrize("fmt", list(Format))
def test_other_collectors_are_written_by_prometheus_client(registry, metrics, created, fmt):
    """A foreign collector and prometheus-client's own instruments sit in the same body, written as before."""
    populate(metrics)
    registry.register(_Foreign())
    ClientCounter("plain_events", "A prometheus-client counter.", ["kind"], registry=registry).labels("x").inc(2)
    ClientGauge("plain_level", "A prometheus-client gauge.", registry=registry).set(7)
    assert encode(registry, fmt) == _reference(fmt)(registry)


def test_exemplars_are_written_by_prometheus_client(registry, created):
    """drd sets no exemplars; if something does, OpenMetrics still has them (prometheus-client writes the family)."""
    counter = Counter("events", "Events.", ["kind"], registry=registry)
    counter.labels("a").inc(1, exemplar={"trace_id": "abc"})
    histogram = Histogram("seconds", "Seconds.", ["kind"], registry=registry, buckets=(1, 10))
    histogram.labels("a").observe(3, exemplar={"trace_id": "def"})
    body = encode(registry, Format.OPENMETRICS)
    assert body == _reference(Format.OPENMETRICS)(registry)
    assert b'# {trace_id="abc"} 1.0' in body
    assert encode(registry, Format.TEXT) == _reference(Format.TEXT)(registry)


def test_function_gauges_and_unlabelled_instruments_are_rendered(registry, created):
    """``set_function`` gauges report the function's value; instruments without labels are one series."""
    level = [3.0]
    Gauge("level", "Level.", registry=registry).set_function(lambda: level[0])
    Counter("ticks", "Ticks.", registry=registry).inc(4)
    Histogram("latency_seconds", "Latency.", registry=registry, buckets=(0.5, 5)).observe(1)
    Histogram("offsets", "Negative buckets: no _sum.", registry=registry, buckets=(-5, 0, 5)).observe(-1)
    for fmt in Format:
        assert encode(registry, fmt) == _reference(fmt)(registry)
    level[0] = 9.0
    assert b"level 9.0\n" in encode(registry, Format.TEXT)


def test_a_value_equal_to_the_last_but_written_differently_is_written_anew(registry, created):
    """0.0 then -0.0 compare equal but Go writes them differently: the cache is keyed by the value objects."""
    gauge = Gauge("offset", "Offset.", ["kind"], registry=registry)
    gauge.labels("a").set(0.0)
    assert b'offset{kind="a"} 0.0\n' in encode(registry, Format.TEXT)
    gauge.labels("a").set(-0.0)
    assert encode(registry, Format.TEXT) == generate_latest(registry)
    assert b'offset{kind="a"} -0.0\n' in encode(registry, Format.TEXT)


@pytest.mark.parametrize("accept", FAST_HEADERS, ids=FAST_IDS)
def test_names_outside_the_simple_alphabet_are_written_by_prometheus_client(registry, accept):
    """A ``:`` in a metric name, a ``.`` in a label name: prometheus-client escapes them its way, so it writes them."""
    Gauge("recording:ratio", "A colon.", ["app.name"], registry=registry).labels("shop").set(0.5)
    Counter("plain", "Simple.", ["app"], registry=registry).labels("shop").inc()
    reference, _ = choose_encoder(accept)
    fast, _ = negotiate(accept)
    assert fast(registry) == reference(registry)


def test_empty_labelled_families_keep_their_header(registry, created):
    """A labelled instrument with no series yet is HELP and TYPE only, as prometheus-client writes it."""
    Counter("nothing_yet", "Nothing.", ["kind"], registry=registry)
    Histogram("nothing_seconds", "Nothing.", ["kind"], registry=registry)
    for fmt in Format:
        assert encode(registry, fmt) == _reference(fmt)(registry)


def test_a_failing_render_falls_back_to_prometheus_client_and_is_logged(busy, monkeypatch):
    """A bug on the fast path costs speed, never a scrape: that family is written by prometheus-client."""

    def broken(self: Any, fmt: Format) -> str:
        raise AttributeError("no such internal")

    monkeypatch.setattr(Histogram, "render", broken)
    with capture_logs() as logs:
        body = encode(busy, Format.TEXT)
    assert body == generate_latest(busy)
    assert {"metrics_render_failed"} == {entry["event"] for entry in logs}


def test_a_restricted_registry_is_written_as_prometheus_client_writes_it(busy):
    """``?name[]=`` snapshots are plain Metrics: same bytes as before."""
    names = ["drd_rpo_seconds", "drd_backup_runs_total", "drd_leader"]
    restricted = busy.restricted_registry(names)
    assert encode(restricted, Format.TEXT) == generate_latest(restricted)


def test_drd_families_are_still_ordinary_metrics_to_prometheus_client(busy):
    """Anything reading ``registry.collect()`` (prometheus-client's encoders, tests) sees the usual samples."""
    families = list(busy.collect())
    rendered = [family for family in families if isinstance(family, RenderedFamily)]
    assert len(rendered) == len(families)  # every family drd registers renders itself
    rpo = next(family for family in families if family.name == "drd_rpo_seconds")
    assert {sample.labels["policy"] for sample in rpo.samples} >= {"shop", "never-backed-up"}


def test_one_rpo_provider_call_per_scrape(registry, clock: ManualClock):
    """The three scrape-time families are written from one provider call."""
    calls = []
    shop = backup_policy()

    def provider() -> list[RpoSample]:
        calls.append(1)
        return [RpoSample.for_policy(shop, T0)]

    metrics = Metrics(registry, rpo_provider=provider, clock=clock)
    metrics.set_policies([shop], [drill_policy()])
    for fmt in Format:
        encode(registry, fmt)
    assert len(calls) == 2
