"""The Grafana dashboard: valid JSON of Grafana 10's schema shape, a query in every panel, and only metric names
(and labels) that drd's registry exports."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry

from drd.metrics import Metrics
from tests.metrics.support import populate, scrape

from .support import (
    TARGET_LABELS,
    alert_queries,
    dashboard,
    dashboard_queries,
    grouping_labels,
    metric_names,
    panels,
    selector_labels,
    variable_queries,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def exported() -> dict[str, set[str]]:
    """Every sample name drd's registry can export (``_bucket``/``_count``/``_sum`` of histograms, counters with
    ``_total``), with the labels its samples carry, from a ``Metrics`` that recorded one of everything."""
    registry = CollectorRegistry()
    metrics = Metrics(registry, version="0.0.0")
    populate(metrics)
    metrics.instruments.secret_age_seconds.labels("velero-credentials").set(1)
    metrics.instruments.secret_rotation_runs_total.labels("velero-credentials", "succeeded").inc()
    metrics.instruments.runbook_runs_total.labels("drain", "succeeded").inc()
    metrics.observe_runbook_step("drain", "k8s.annotate", 0.2)
    metrics.set_location_available("primary-east", "default", True)
    names: dict[str, set[str]] = {}
    for family in scrape(registry).values():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


EXPORTED = exported()


def test_the_dashboard_is_grafana_10_json_with_its_variables():
    """Title, uid, schema version, the datasource variable and cluster/policy variables from label_values."""
    document = dashboard()
    assert document["title"] == "drd — Recovery objectives"
    assert document["uid"] == "drd-recovery-objectives"
    assert document["schemaVersion"] >= 38  # Grafana 10
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("cluster", "policy"):
        assert variables[name]["datasource"] == DATASOURCE
        assert variables[name]["includeAll"]
        assert variables[name]["allValue"] == ".*"
    assert set(variable_queries()) == {"cluster", "policy"}
    for query in variable_queries().values():
        assert re.fullmatch(r"label_values\((\w+), (\w+)\)", query), query


def test_every_panel_has_a_query_on_the_datasource_variable():
    """No empty panel, each target has an expression and a unique refId, and all use ${datasource}."""
    found = list(panels())
    assert len(found) >= 20
    for panel in found:
        targets = panel.get("targets") or []
        assert targets, f"panel {panel['title']!r} has no query"
        assert panel["datasource"] == DATASOURCE, panel["title"]
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), f"{panel['title']} {target['refId']}"
            assert target["datasource"] == DATASOURCE


def test_panel_ids_are_unique_and_the_layout_fits_the_grid():
    ids = [p["id"] for p in panels()] + [p["id"] for p in dashboard()["panels"] if p["type"] == "row"]
    assert len(ids) == len(set(ids))
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert min(grid["w"], grid["h"]) > 0, panel["title"]


def test_the_fleet_overview_and_the_per_application_table_are_there():
    """The stat panels of the overview, the table sorted breaches first, the placeholders for upgrades and secrets."""
    by_title = {p["title"]: p for p in panels()}
    for title in ("Backup policies within RPO", "Drill policies within RTO", "Drills fresh", "Objectives breached"):
        assert by_title[title]["type"] == "stat"
    table = by_title["Recovery objectives per policy"]
    assert table["type"] == "table"
    assert all(t["instant"] and t["format"] == "table" for t in table["targets"])
    assert {"id": "sortBy", "options": {"sort": [{"field": "Breaches", "desc": True}]}} in table["transformations"]
    rows = {p["title"]: p for p in dashboard()["panels"] if p["type"] == "row"}
    upgrades = next(r for title, r in rows.items() if title.startswith("Upgrades"))
    secrets = next(r for title, r in rows.items() if title.startswith("Secrets"))
    assert "drd_upgrade_cluster_phase" in str(upgrades["panels"])
    assert "drd_secret_age_seconds" in str(secrets["panels"])


@pytest.mark.parametrize("query", dashboard_queries() + alert_queries(), ids=lambda q: q.where)
def test_every_metric_a_query_uses_is_in_drds_registry(query):
    """Names from drd's own registry only (``up`` is Prometheus' own), and labels those series carry."""
    names = metric_names(query.expr)
    assert names, query.expr
    unknown = {name for name in names if name not in EXPORTED and name != "up"}
    assert not unknown, f"{query.where} uses {sorted(unknown)}, which drd does not export"
    for name, labels in selector_labels(query.expr).items():
        allowed = EXPORTED.get(name, set()) | TARGET_LABELS
        assert labels <= allowed, f"{query.where}: {name} has no label {sorted(labels - allowed)}"
    carried = set().union(*(EXPORTED.get(name, set()) for name in names)) | TARGET_LABELS
    assert grouping_labels(query.expr) <= carried, f"{query.where}: {sorted(grouping_labels(query.expr) - carried)}"


def test_variables_select_labels_drd_exports():
    for query in variable_queries().values():
        metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", query).groups()
        assert label in EXPORTED[metric]
