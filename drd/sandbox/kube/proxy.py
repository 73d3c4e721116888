"""The service proxy of the API server (``/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/{path}``).

A real kube-apiserver resolves the Service to one of its ready endpoints and
forwards the request there; drd uses it to verify restored applications from
outside the cluster. The emulator resolves exactly as Kubernetes does
(``ResourceLocation`` in ``pkg/registry/core/service/storage``) and, as there
is no application behind the pods, answers *as the backend* from the
Service's annotations:

* the Service is missing → 404 ``services "web" not found``;
* the reference is malformed (``a:b:c:d``, an unknown scheme) → 400;
* a numeric port the Service does not declare → 503 ``no service port 81 found for service "web"``;
* no Running, Ready, non-terminating pod matches the selector (or the named
  port is not on the Service) → 503 ``no endpoints available for service "web"``;
* otherwise the status of annotation ``sandbox.drd.dev/http-status`` (default 200)
  with the body of ``sandbox.drd.dev/http-body`` (plain text), by default
  ``{"service": name, "path": path, "status": "ok"}`` as JSON.

Readiness comes from the pods' ``Ready`` condition, which the workload
simulator sets (and keeps ``False`` for workloads labelled
``sandbox.drd.dev/never-ready``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drd.sandbox.kube import errors
from drd.sandbox.kube.routing import ProxyPath
from drd.sandbox.kube.store import Store

HTTP_STATUS_ANNOTATION = "sandbox.drd.dev/http-status"
HTTP_BODY_ANNOTATION = "sandbox.drd.dev/http-body"
_SCHEMES = frozenset({"", "http", "https"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ServiceUnavailable(errors.KubeApiError):
    """503 as ``NewServiceUnavailable`` builds it: no details, no ``Retry-After`` (unlike a shed request)."""

    code = 503
    reason = "ServiceUnavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, details=None)


def serve(store: Store, method: str, target: ProxyPath) -> tuple[int, Any]:
    """Status and body of one proxied request, as the Service's backend would answer (see the module docstring).

    A ``str`` body is sent as plain text, anything else as JSON.
    """
    if method.upper() not in _METHODS:
        raise errors.MethodNotAllowed()
    name, port = _split(target.service)
    service = store.get("services", name, namespace=target.namespace)
    spec = service.get("spec") or {}
    port_name = _port_name(spec, name, port)
    if not _has_ready_endpoint(store, target.namespace, spec, port_name):
        raise ServiceUnavailable(f'no endpoints available for service "{name}"')
    annotations = service["metadata"].get("annotations") or {}
    status = _status(annotations.get(HTTP_STATUS_ANNOTATION))
    body = annotations.get(HTTP_BODY_ANNOTATION)
    if body is None:
        return status, {"service": name, "path": target.path, "status": "ok"}
    return status, str(body)


def _split(reference: str) -> tuple[str, str]:
    """``name``, ``name:port`` or ``scheme:name:port`` (apimachinery's ``SplitSchemeNamePort``) → name, port."""
    parts = reference.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        raise errors.BadRequest(f'invalid service request "{reference}"')
    if not name or scheme not in _SCHEMES:
        raise errors.BadRequest(f'invalid service request "{reference}"')
    return name, port


def _port_name(spec: Mapping[str, Any], name: str, port: str) -> str:
    """The name of the addressed Service port, which endpoints are matched on (``""`` for an unnamed one)."""
    if not port.isdigit():
        return port
    for declared in spec.get("ports") or []:
        if str(declared.get("port")) == port:
            return str(declared.get("name") or "")
    raise ServiceUnavailable(f'no service port {port} found for service "{name}"')


def _has_ready_endpoint(store: Store, namespace: str, spec: Mapping[str, Any], port_name: str) -> bool:
    selector = spec.get("selector") or {}
    declared = {str(p.get("name") or "") for p in spec.get("ports") or []}
    if not selector or port_name not in declared:
        return False
    label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
    return any(_ready(pod) for pod in store.list("pods", namespace=namespace, label_selector=label_selector))


def _ready(pod: Mapping[str, Any]) -> bool:
    """Running, Ready and not terminating: what the endpoints controller publishes as a ready address."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and status.get("phase") == "Running"


def _status(annotation: str | None) -> int:
    if annotation is None:
        return 200
    try:
        status = int(annotation)
    except ValueError:
        status = 0
    if not 100 <= status <= 599:
        raise errors.InternalError(f"{HTTP_STATUS_ANNOTATION}: {annotation!r} is not an HTTP status (100-599)")
    return status
