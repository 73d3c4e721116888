"""Verification checks: one probe, one :class:`CheckResult`, never an exception for what is probed.

A check answers one question about a restored application ("does the
storefront answer 200 on /healthz?"). Whatever goes wrong with the *target* is
the answer, not an error: a refused connection, a Service without ready
endpoints, an unexpected status, a body without the expected text, a missing
object, or an API server that cannot be reached all give ``passed=False`` with a
detail an on-call engineer can act on. A check raises only when it cannot be
made as written (:class:`~drd.errors.ConfigError`: both a URL and a Service, a
HEAD request with a body expectation…) or when drd itself is misconfigured
(``KubeForbidden``: drd lacks the RBAC to look). Retrying until a deadline is
the caller's business (a drill's verify phase): one call is one probe.

HTTP checks reach a Service either directly by URL or, from outside the
cluster, through the API server's service proxy, as ``kubectl get --raw`` does.
Exec checks run a command in a pod through the API server, as ``kubectl exec``
does. Body and output excerpts in ``observed`` are redacted and short.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drd import redaction
from drd.clients import http
from drd.clients.errors import KubeInvalid, KubeNotFound, KubeUnavailable
from drd.clients.kube import ExecResult, KubeClient
from drd.clients.kube_resources import PODS, Resource
from drd.errors import ConfigError

EXCERPT_CHARS = 200
"""How much of a response body or of a command's output a result keeps (redacted)."""
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found. ``observed`` holds the facts behind ``detail`` (status, latency, uid…)."""

    name: str
    type: str
    passed: bool
    duration_ms: float
    detail: str
    observed: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for evidence and logs."""
        return {
            "name": self.name,
            "type": self.type,
            "passed": self.passed,
            "duration_ms": round(self.duration_ms, 1),
            "detail": self.detail,
            "observed": dict(self.observed),
        }


def http_check(
    *,
    url: str | None = None,
    kube: KubeClient | None = None,
    namespace: str | None = None,
    service: str | None = None,
    port: int | str | None = None,
    path: str = "/",
    scheme: str = "http",
    method: str = "GET",
    expect_status: int = 200,
    contains: str | None = None,
    timeout: float = 10.0,
    verify_tls: bool = True,
    label: str | None = None,
) -> CheckResult:
    """An HTTP request answers ``expect_status`` (and its body contains ``contains``, when given).

    Give either ``url``, or ``kube`` with ``namespace``, ``service``, ``port`` (number
    or name) and ``path`` to go through the API server's service proxy (GET only;
    ``scheme`` picks how the proxy talks to the pods).
    """
    method = method.upper()
    if contains is not None and method == "HEAD":
        raise ConfigError("http check: a HEAD response has no body to contain anything: use GET")
    if not 100 <= expect_status <= 599 or timeout <= 0:
        raise ConfigError("http check: expect_status must be 100-599 and timeout positive")
    if scheme not in ("http", "https"):
        raise ConfigError(f"http check: scheme {scheme!r} is not supported: use http or https")
    if url is not None:
        _no_proxy_fields(kube=kube, namespace=namespace, service=service, port=port)
        target = http.display_url(url)
        name = label or f"http {target}"

        def probe() -> http.HttpResponse:
            return http.http_request(url, method=method, timeout=timeout, verify_tls=verify_tls)

    else:
        if kube is None or not namespace or not service or port in (None, ""):
            raise ConfigError("http check: give a url, or kube with namespace, service and port")
        if method != "GET":
            raise ConfigError(f"http check: method {method!r} is not supported through the service proxy: use GET")
        proxy, ns, svc, svc_port = kube, namespace, service, port
        target = f"service {ns}/{svc}:{svc_port}{path} via the API server of {proxy.cluster}"
        name = label or f"http {svc}:{svc_port}{path}"

        def probe() -> http.HttpResponse:
            proxy_scheme = "" if scheme == "http" else scheme
            return proxy.proxy_get(ns, svc, svc_port, path, scheme=proxy_scheme, timeout_seconds=timeout)

    started = time.perf_counter()
    try:
        response = probe()
    except http.HttpInvalid as exc:
        raise ConfigError(f"http check {name!r}: {exc}") from exc
    except http.HttpUnavailable as exc:
        return _failed(name, "http", started, str(exc), target=target, error=exc)
    except KubeNotFound as exc:
        where = f" on {kube.cluster}" if kube is not None else ""
        detail = f'service "{service}" not found in namespace "{namespace}"{where}'
        return _failed(name, "http", started, detail, target=target, error=exc)
    except KubeUnavailable as exc:
        return _failed(name, "http", started, f"could not ask the API server: {exc}", target=target, error=exc)
    return _judge_http(name, started, response, target=target, expect_status=expect_status, contains=contains)


def tcp_check(host: str, port: int, *, timeout: float = 5.0, label: str | None = None) -> CheckResult:
    """A TCP connection to ``host:port`` is accepted within ``timeout`` seconds."""
    name = label or f"tcp {host}:{port}"
    started = time.perf_counter()
    try:
        latency_ms = http.tcp_connect(host, port, timeout=timeout)
    except http.HttpInvalid as exc:
        raise ConfigError(f"tcp check {name!r}: {exc}") from exc
    except http.HttpUnavailable as exc:
        return _failed(name, "tcp", started, str(exc), error=exc)
    detail = f"{host}:{port} accepted a connection in {latency_ms:.0f} ms"
    return _result(name, "tcp", started, passed=True, detail=detail, observed={"latency_ms": round(latency_ms, 1)})


def resource_exists_check(
    kube: KubeClient, resource: Resource, name: str, namespace: str | None = None, *, label: str | None = None
) -> CheckResult:
    """The object exists (and is not being deleted). ``namespace`` is required exactly for namespaced resources."""
    if resource.namespaced != (namespace is not None):
        scope = "namespaced: give a namespace" if resource.namespaced else "cluster-scoped: give no namespace"
        raise ConfigError(f"resource exists check: {resource.group_resource} is {scope}")
    where = f' in namespace "{namespace}"' if namespace else ""
    what = f'{resource.kind} "{name}"{where} on {kube.cluster}'
    check = label or f"{resource.kind} {name} exists"
    started = time.perf_counter()
    try:
        obj = kube.get(resource, name, namespace=namespace)
    except KubeNotFound as exc:
        if not _served(kube, resource):
            detail = f"{kube.cluster} does not serve {resource.group_resource} ({resource.api_version})"
            return _failed(check, "resourceExists", started, detail, error=exc)
        return _failed(check, "resourceExists", started, f"{what} does not exist", error=exc)
    except KubeUnavailable as exc:
        return _failed(check, "resourceExists", started, f"could not ask the API server: {exc}", error=exc)
    metadata = obj.get("metadata") or {}
    observed = {
        "uid": metadata.get("uid", ""),
        "resourceVersion": metadata.get("resourceVersion", ""),
        "creationTimestamp": metadata.get("creationTimestamp", ""),
    }
    if metadata.get("deletionTimestamp"):
        observed["deletionTimestamp"] = metadata["deletionTimestamp"]
        detail = f"{what} is being deleted (since {metadata['deletionTimestamp']})"
        return _result(check, "resourceExists", started, passed=False, detail=detail, observed=observed)
    return _result(check, "resourceExists", started, passed=True, detail=f"{what} exists", observed=observed)


def exec_check(
    kube: KubeClient,
    *,
    namespace: str,
    selector: str,
    command: Sequence[str],
    container: str | None = None,
    expect_exit_code: int = 0,
    timeout: float = 120.0,
    label: str | None = None,
) -> CheckResult:
    """``command`` run in a Running, Ready pod matching the label ``selector`` exits with ``expect_exit_code``.

    The first such pod by name is used. ``container`` defaults to the pod's default
    container, as for kubectl: the one its ``kubectl.kubernetes.io/default-container``
    annotation names, else the first. ``timeout`` bounds the command (seconds).
    """
    if isinstance(command, str) or not command:
        raise ConfigError("exec check: command must be a non-empty argv list such as ['pg_isready', '-U', 'app']")
    if not selector.strip():
        raise ConfigError("exec check: selector must select pods by label (such as app=db); empty matches all")
    if not 0 <= expect_exit_code <= 255 or timeout <= 0:
        raise ConfigError("exec check: expect_exit_code must be 0-255 and timeout positive")
    name = label or f"exec {command[0]} in {selector}"
    where = f'namespace "{namespace}" on {kube.cluster}'
    started = time.perf_counter()
    try:
        pods = kube.list_objects(PODS, namespace=namespace, label_selector=selector).items
    except KubeInvalid as exc:
        raise ConfigError(f"exec check {name!r}: selector {selector!r}: {exc}") from exc
    except KubeUnavailable as exc:
        return _failed(name, "exec", started, f"could not ask the API server: {exc}", error=exc)
    pod = next((p for p in pods if _running_and_ready(p)), None)
    if pod is None:
        return _result(name, "exec", started, passed=False, detail=_no_pod(pods, selector, where), observed={})
    pod_name = str(pod["metadata"]["name"])
    containers = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
    chosen = container or _default_container(pod, containers)
    target = f"pod {namespace}/{pod_name} container {chosen} on {kube.cluster}"
    if chosen not in containers:
        detail = f"pod {pod_name} in {where} has no container {chosen!r} (it has: {', '.join(containers)})"
        return _result(name, "exec", started, passed=False, detail=detail, observed={"target": target})
    try:
        result = kube.exec(namespace, pod_name, command, container=chosen, timeout_seconds=timeout)
    except (KubeNotFound, KubeInvalid, KubeUnavailable) as exc:
        return _failed(
            name, "exec", started, f"could not run {_argv(command)} in {target}: {exc}", error=exc, target=target
        )
    return _judge_exec(
        name, started, result, command=command, pod=f"{namespace}/{pod_name}", target=target, expect=expect_exit_code
    )


def _running_and_ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return ready and status.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def _no_pod(pods: list[dict[str, Any]], selector: str, where: str) -> str:
    if not pods:
        return f"no pod matches {selector} in {where}"
    states = [f"{pod['metadata']['name']}: {_pod_state(pod)}" for pod in pods[:3]]
    more = f", and {len(pods) - 3} more" if len(pods) > 3 else ""
    return (
        f"none of the {len(pods)} pods matching {selector} in {where} is Running and Ready ({'; '.join(states)}{more})"
    )


def _pod_state(pod: Mapping[str, Any]) -> str:
    if pod["metadata"].get("deletionTimestamp"):
        return "terminating"
    phase = str((pod.get("status") or {}).get("phase") or "Pending")
    return f"{phase}, not ready" if phase == "Running" else phase


def _default_container(pod: Mapping[str, Any], containers: list[str]) -> str:
    named = str((pod["metadata"].get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION) or "")
    return named if named in containers else (containers[0] if containers else "")


def _argv(command: Sequence[str]) -> str:
    joined = shlex.join(command)
    return joined if len(joined) <= 80 else joined[:79] + "…"


def _judge_exec(
    name: str, started: float, result: ExecResult, *, command: Sequence[str], pod: str, target: str, expect: int
) -> CheckResult:
    observed: dict[str, Any] = {
        "target": target,
        "exit_code": result.exit_code,
        "stdout": redaction.redact_text(result.stdout[:EXCERPT_CHARS]),
        "stderr": redaction.redact_text(result.stderr[:EXCERPT_CHARS]),
    }
    if result.exit_code != expect:
        reason = _first_line(result.stderr) or _first_line(result.stdout)
        detail = f"{_argv(command)} exited {result.exit_code}, expected {expect} (pod {pod})"
        detail += f": {reason}" if reason else ""
        return _result(name, "exec", started, passed=False, detail=redaction.redact_text(detail), observed=observed)
    detail = f"{_argv(command)} exited {result.exit_code} as expected (pod {pod})"
    return _result(name, "exec", started, passed=True, detail=redaction.redact_text(detail), observed=observed)


def _no_proxy_fields(**fields: object) -> None:
    given = [key for key, value in fields.items() if value is not None]
    if given:
        raise ConfigError(f"http check: give either url or kube/namespace/service/port, not both ({given[0]})")


def _judge_http(
    name: str, started: float, response: http.HttpResponse, *, target: str, expect_status: int, contains: str | None
) -> CheckResult:
    text = response.text
    observed: dict[str, Any] = {
        "target": target,
        "status": response.status,
        "latency_ms": round(response.latency_ms, 1),
        "body": redaction.redact_text(text[:EXCERPT_CHARS]),
        "truncated": response.truncated,
    }
    if response.status != expect_status:
        reason = _api_message(response) or _first_line(text)
        detail = f"HTTP {response.status}, expected {expect_status}" + (f": {reason}" if reason else "")
        return _result(name, "http", started, passed=False, detail=detail, observed=observed)
    if contains is not None and contains not in text:
        partial = f" (only the first {len(response.body)} bytes were read)" if response.truncated else ""
        detail = f"HTTP {response.status} as expected, but the body does not contain {contains!r}{partial}"
        return _result(name, "http", started, passed=False, detail=redaction.redact_text(detail), observed=observed)
    found = f", body contains {contains!r}" if contains is not None else ""
    detail = redaction.redact_text(f"HTTP {response.status} in {response.latency_ms:.0f} ms{found}")
    return _result(name, "http", started, passed=True, detail=detail, observed=observed)


def _api_message(response: http.HttpResponse) -> str:
    """The message of a Kubernetes ``Status`` body (``no endpoints available for service "web"``), if it is one."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return ""
    try:
        document = json.loads(response.body)
    except ValueError:
        return ""
    if isinstance(document, dict) and document.get("kind") == "Status":
        return redaction.redact_text(str(document.get("message", "")))
    return ""


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return redaction.redact_text(line[:120])


def _served(kube: KubeClient, resource: Resource) -> bool:
    try:
        return kube.has_resource(resource)
    except KubeUnavailable:
        return True  # cannot tell: report the object as missing, which is what the API said


def _failed(
    name: str, check_type: str, started: float, detail: str, *, error: Exception, target: str | None = None
) -> CheckResult:
    observed: dict[str, Any] = {"error": type(error).__name__}
    if target is not None:
        observed["target"] = target
    return _result(name, check_type, started, passed=False, detail=redaction.redact_text(detail), observed=observed)


def _result(
    name: str, check_type: str, started: float, *, passed: bool, detail: str, observed: Mapping[str, Any]
) -> CheckResult:
    duration_ms = (time.perf_counter() - started) * 1000.0
    return CheckResult(name, check_type, passed, duration_ms, detail, observed)
