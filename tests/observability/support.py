"""The shipped dashboard and alert rules as data: their panels, queries and expressions, the metric names they use."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "helm" / "drd" / "files"
DASHBOARD = FILES / "dashboard.json"
ALERTS = FILES / "alerts.yaml"
ALERT_TESTS = FILES / "alerts-tests.yaml"
DOCS = ROOT / "docs" / "dashboards.md"

RUNBOOK_BASE = "https://github.com/drd-dev/drd/blob/main/docs/dashboards.md#"
"""Every alert's ``runbook_url`` is this plus the alert's name in lower case (a heading of docs/dashboards.md)."""

TARGET_LABELS = frozenset({"instance", "job", "namespace"})
"""Labels Prometheus (or the ServiceMonitor) adds to every scraped series."""

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"(?<![\w:$])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHER_LABEL = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "histogram_quantile",
        "time",
        "vector",
        "scalar",
        "absent",
        "absent_over_time",
        "abs",
        "ceil",
        "floor",
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "label_replace",
        "label_join",
        "sort",
        "sort_desc",
        "timestamp",
        "max_over_time",
        "min_over_time",
        "avg_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "changes",
        "resets",
        "inf",
        "nan",
        "e",
        "le",
    }
)


@dataclass(frozen=True)
class Query:
    """One query of the dashboard (a panel target) or of the rules (an alert's expression)."""

    where: str
    expr: str
    instant: bool = True


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def panels(document: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including those inside collapsed rows."""

    def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            if item.get("type") == "row":
                yield from walk(item.get("panels", []))
            else:
                yield item

    yield from walk((document or dashboard())["panels"])


def dashboard_queries(document: dict[str, Any] | None = None) -> list[Query]:
    return [
        Query(f"panel {p['title']!r} {t['refId']}", t["expr"], bool(t.get("instant")))
        for p in panels(document)
        for t in p.get("targets", [])
    ]


def variable_queries(document: dict[str, Any] | None = None) -> dict[str, str]:
    """``label_values(...)`` of each query variable, by variable name."""
    found = {}
    for variable in (document or dashboard())["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            found[variable["name"]] = query["query"] if isinstance(query, dict) else query
    return found


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return groups


def alerts() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


def alert_queries() -> list[Query]:
    return [Query(f"alert {rule['alert']}", rule["expr"].strip()) for rule in alerts()]


def _without_strings(expr: str) -> str:
    return _STRING.sub('""', expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (function names, keywords, labels and durations left out)."""
    text = _without_strings(expr)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors: [1h], [$__rate_interval]
    names = set()
    for match in _NAME.finditer(text):
        name = match.group(1)
        rest = text[match.end() :].lstrip()
        if name.lower() in _KEYWORDS or (rest.startswith("(") and match.group(2) is None):
            continue
        names.add(name)
    return names


def selector_labels(expr: str) -> dict[str, set[str]]:
    """Label names matched in each ``metric{...}`` selector, by metric."""
    found: dict[str, set[str]] = {}
    for match in _NAME.finditer(_without_strings(expr)):
        if match.group(2) and match.group(1).lower() not in _KEYWORDS:
            found.setdefault(match.group(1), set()).update(_MATCHER_LABEL.findall(match.group(2)))
    return found


def grouping_labels(expr: str) -> set[str]:
    """Label names of ``by``/``without``/``on``/``ignoring``/``group_*`` clauses."""
    labels = set()
    for match in _GROUPING.finditer(_without_strings(expr)):
        labels.update(label.strip() for label in match.group(1).split(",") if label.strip())
    return labels


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Grafana's variable interpolation for a test: ``$name`` and ``${name}`` (regex values as given)."""
    out = expr
    for name in sorted(variables, key=len, reverse=True):
        out = out.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    return out


GRAFANA_BUILTINS = {"__range": "1h", "__rate_interval": "1m", "__interval": "15s"}
