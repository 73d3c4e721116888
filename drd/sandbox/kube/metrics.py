"""The emulator's ``GET /metrics``, in Prometheus' text format, with a real API server's metric names.

Two families, labelled as kube-apiserver labels them:

- ``apiserver_request_total{verb,dry_run,group,version,resource,subresource,scope,component,code}``:
  every answered request, injected faults included (so a 5xx-ratio gate sees them);
- ``apiserver_requested_deprecated_apis{group,version,resource,subresource,removed_release}``:
  1 once a deprecated version was requested since the server started.

Verbs are the API server's: ``LIST`` and ``WATCH`` for collection reads,
``GET`` for one object, ``POST``, ``PUT``, ``PATCH``, ``DELETE``,
``DELETECOLLECTION``, ``CONNECT`` for exec; non-resource paths (``/version``,
``/healthz``) count with empty group, version and resource.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from drd.sandbox.kube import routing
from drd.sandbox.kube.registry import ResourceType

PATH = "/metrics"

REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code")
DEPRECATED_LABELS = ("group", "version", "resource", "subresource", "removed_release")

_HELP = {
    "apiserver_request_total": (
        "counter",
        "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, "
        "scope, component, and HTTP response code.",
    ),
    "apiserver_requested_deprecated_apis": (
        "gauge",
        "[STABLE] Gauge of deprecated APIs that have been requested, broken out by API group, version, resource, "
        "subresource, and removed_release.",
    ),
}


class ApiMetrics:
    """Thread-safe request counts and deprecated-API marks of one emulated API server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, ...]] = Counter()
        self._deprecated: set[tuple[str, ...]] = set()

    def observe(self, method: str, raw_path: str, code: int) -> None:
        """Count one answered request (``raw_path`` with its query string)."""
        labels = request_labels(method, raw_path, code)
        with self._lock:
            self._requests[labels] += 1

    def requested_deprecated(self, rt: ResourceType, subresource: str | None) -> None:
        """Mark a deprecated resource version as requested (the gauge stays 1 until the server restarts)."""
        if rt.deprecation is None:
            return
        labels = (rt.group, rt.version, rt.plural, subresource or "", rt.deprecation.removed_release)
        with self._lock:
            self._deprecated.add(labels)

    def render(self) -> str:
        """Both families in the text exposition format."""
        with self._lock:
            requests = sorted(self._requests.items())
            deprecated = sorted(self._deprecated)
        lines: list[str] = []
        lines += _family("apiserver_request_total", ((REQUEST_LABELS, labels, count) for labels, count in requests))
        lines += _family(
            "apiserver_requested_deprecated_apis", ((DEPRECATED_LABELS, labels, 1) for labels in deprecated)
        )
        return "\n".join(lines) + "\n"


def request_labels(method: str, raw_path: str, code: int) -> tuple[str, ...]:
    """The ``apiserver_request_total`` label values of one request, in :data:`REQUEST_LABELS` order."""
    url = urlsplit(raw_path)
    query = parse_qs(url.query)
    dry_run = ",".join(sorted(query.get("dryRun", [])))
    target = routing.parse(url.path)
    method = method.upper()
    if isinstance(target, routing.ProxyPath):
        return (method, dry_run, "", "v1", "services", "proxy", "resource", "apiserver", str(code))
    if not isinstance(target, routing.ResourcePath):
        return (method, dry_run, "", "", "", "", "", "apiserver", str(code))
    watching = target.watch or _flag(query, "watch")
    scope = "resource" if target.name else "namespace" if target.namespace else "cluster"
    verb = _verb(method, named=target.name is not None, watching=watching, subresource=target.subresource)
    labels = (target.group, target.version, target.plural, target.subresource or "", scope)
    return (verb, dry_run, *labels, "apiserver", str(code))


def _verb(method: str, *, named: bool, watching: bool, subresource: str | None) -> str:
    if subresource == "exec":
        return "CONNECT"
    if method == "GET":
        return "WATCH" if watching else "GET" if named else "LIST"
    if method == "DELETE" and not named:
        return "DELETECOLLECTION"
    return method


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    values = query.get(name) or [""]
    return values[-1].lower() in ("1", "true")


def _family(name: str, samples: Iterable[tuple[tuple[str, ...], tuple[str, ...], int]]) -> list[str]:
    kind, text = _HELP[name]
    lines = [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
    for keys, values, value in samples:
        pairs = ",".join(f'{key}="{_escape(label)}"' for key, label in zip(keys, values, strict=True))
        lines.append(f"{name}{{{pairs}}} {value}")
    return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
