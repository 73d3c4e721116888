"""The chart lints with Helm 4 and every rendered manifest is valid against the Kubernetes schemas."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.helm.conftest import CHART, FULL_VALUES, Renderer, of_kind, one, run_helm

KUBERNETES_VERSION = "1.33"  # the Kubernetes line of the Helm/kubectl layer CI uses
CRD_GROUPS = ("monitoring.coreos.com/",)


def _validate(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_helm_is_version_4(helm: str) -> None:
    """CI runs the chart through Helm 4, not an older Helm that happens to be installed."""
    version = run_helm(helm, "version", "--short").stdout
    assert version.startswith("v4."), version


@pytest.mark.parametrize("values", [[], ["-f", str(FULL_VALUES)]], ids=["default", "full"])
def test_lint_strict_passes(helm: str, values: list[str]) -> None:
    """`helm lint --strict` passes with the default values and with the full example."""
    result = run_helm(helm, "lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("full", [False, True], ids=["default", "full"])
def test_every_builtin_manifest_is_schema_valid(render: Renderer, full: bool) -> None:
    """Every manifest of a Kubernetes kind validates strictly (no unknown fields) against the 1.33 schemas."""
    docs = render.full() if full else render()
    builtin = [d for d in docs if not d["apiVersion"].startswith(CRD_GROUPS)]
    assert len(builtin) >= 10
    for doc in builtin:
        _validate(doc)


def test_default_render_has_the_expected_objects(render: Renderer) -> None:
    """The default install is a Deployment, Service, ServiceAccount, RBAC, PDB and ConfigMaps, no CRD objects."""
    kinds = sorted({d["kind"] for d in render()})
    assert kinds == [
        "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PodDisruptionBudget",
        "Role", "RoleBinding", "Service", "ServiceAccount",
    ]  # fmt: skip


def test_service_monitor_structure(render: Renderer) -> None:
    """The ServiceMonitor scrapes /metrics on the Service's http-metrics port of this release only."""
    docs = render.full()
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor["spec"]) == {"namespaceSelector", "selector", "endpoints"}
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics" == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_prometheus_rule_embeds_the_rules_file(render: Renderer) -> None:
    """The PrometheusRule's spec is exactly files/alerts.yaml, each rule well formed."""
    rule = one(render.full(), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert isinstance(group["name"], str)
        assert group["name"]
        assert isinstance(group["rules"], list)
        for r in group["rules"]:
            assert ("alert" in r) != ("record" in r), r
            assert isinstance(r["expr"], str | int | float), r


def test_crd_objects_are_optional(render: Renderer) -> None:
    """ServiceMonitor and PrometheusRule render only when enabled (clusters without the Prometheus Operator)."""
    docs = render()
    assert not of_kind(docs, "ServiceMonitor")
    assert not of_kind(docs, "PrometheusRule")


def test_dashboard_configmap_embeds_the_dashboard(render: Renderer) -> None:
    """The dashboard ConfigMap carries files/dashboard.json verbatim, labelled for the Grafana sidecar."""
    expected = json.loads((CHART / "files" / "dashboard.json").read_text())
    dashboard = one(render(), "ConfigMap", "drd-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    (content,) = dashboard["data"].values()
    assert json.loads(content) == expected


def test_dashboard_namespace_and_folder_are_configurable(render: Renderer) -> None:
    """The dashboard can go to the namespace Grafana's sidecar watches, with a folder annotation."""
    dashboard = one(render.full(), "ConfigMap", "drd-dashboard")
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["annotations"]["grafana_folder"] == "Disaster recovery"
