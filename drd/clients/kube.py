"""Kubernetes API access through the official client, as plain dicts with typed errors.

drd speaks to every resource the same way (core objects, Velero's CRDs,
Leases) through the client's ``ApiClient`` over real HTTP, skipping the
generated model classes: their pydantic validation is slow and rejects the
partial objects that patches return. Every failure becomes a
:mod:`drd.clients.errors` Kube error naming the cluster, chained to the cause.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import urllib3.exceptions
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from drd.clients.errors import (
    KubeAlreadyExists,
    KubeConflict,
    KubeError,
    KubeForbidden,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
)
from drd.clients.http import HttpResponse
from drd.clients.kube_resources import Resource

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
TEXT = "text/plain, */*"
SANDBOX_CONTROL_PLANE = "/sandbox.drd.dev/v1/controlplane"
"""The ``drd sandbox`` emulator's platform endpoint (its stand-in for a managed control plane's API)."""
EXEC_OUTPUT_LIMIT = 1 << 20
"""How many characters of stdout and of stderr :meth:`KubeClient.exec` keeps; the rest is read and dropped."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch event: ADDED, MODIFIED, DELETED or BOOKMARK, with the object."""

    type: str
    object: Mapping[str, Any]

    @property
    def resource_version(self) -> str:
        return str(self.object.get("metadata", {}).get("resourceVersion", ""))


@dataclass(frozen=True, slots=True)
class ExecResult:
    """How a command run in a container ended: its exit code and what it wrote."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class ObjectList:
    """A list response: items plus the collection's resourceVersion (to start a watch from)."""

    items: list[dict[str, Any]]
    resource_version: str


class KubeClient:
    """One cluster's API, spoken through the official client."""

    def __init__(
        self, api_client: Any, *, cluster: str, timeout_seconds: float = 10.0, user_agent: str = "drd"
    ) -> None:
        self._api = api_client
        self.cluster = cluster
        self.timeout_seconds = timeout_seconds
        self.user_agent = user_agent

    @classmethod
    def from_api_url(
        cls, url: str, *, cluster: str, token: str | None = None, timeout_seconds: float = 10.0, user_agent: str = "drd"
    ) -> KubeClient:
        """Connect to an API server by URL (the sandbox's emulators; tests)."""
        configuration = k8s.Configuration()
        configuration.host = url
        configuration.connection_pool_maxsize = 32
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return cls(
            k8s.ApiClient(configuration), cluster=cluster, timeout_seconds=timeout_seconds, user_agent=user_agent
        )

    @classmethod
    def from_kubeconfig(
        cls, path: str | None, *, context: str | None, cluster: str, timeout_seconds: float = 10.0
    ) -> KubeClient:
        """Connect with a kubeconfig file and context (``path=None``: the default kubeconfig)."""
        try:
            if path and os.pathsep not in path:
                configuration = k8s.Configuration()
                loader = k8s_config.kube_config.KubeConfigLoader(  # type: ignore[no-untyped-call]
                    config_dict=_parsed_kubeconfig(path),
                    active_context=context,
                    config_base_path=os.path.dirname(os.path.abspath(path)),
                )
                loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
                api_client = k8s.ApiClient(configuration)
            else:  # the default location, or several files to merge: the client's own loader
                api_client = k8s_config.new_client_from_config(config_file=path or None, context=context)  # type: ignore[no-untyped-call]
        except (k8s_config.ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
            raise KubeInvalid(
                f"cannot load kubeconfig {path or '~/.kube/config'} context {context!r}: {exc}",
                system=f'kubernetes cluster "{cluster}"',
            ) from exc
        return cls(api_client, cluster=cluster, timeout_seconds=timeout_seconds)

    @classmethod
    def in_cluster(cls, *, cluster: str, timeout_seconds: float = 10.0) -> KubeClient:
        """Connect with the pod's service account."""
        configuration = k8s.Configuration()
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except k8s_config.ConfigException as exc:
            raise KubeInvalid(f"not running in a cluster: {exc}", system=f'kubernetes cluster "{cluster}"') from exc
        return cls(k8s.ApiClient(configuration), cluster=cluster, timeout_seconds=timeout_seconds)

    @property
    def system(self) -> str:
        return f'kubernetes cluster "{self.cluster}"'

    @property
    def host(self) -> str:
        """The API server URL."""
        return str(self._api.configuration.host)

    def close(self) -> None:
        """Release pooled connections."""
        self._api.close()

    # Reads
    def version(self) -> dict[str, Any]:
        """``/version``: gitVersion, major, minor."""
        return self._json("GET", "/version")

    def get_path(self, path: str) -> dict[str, Any]:
        """GET any API path (discovery documents such as ``/apis``)."""
        return self._json("GET", path)

    def get_text(self, path: str, query: Mapping[str, str | None] | None = None) -> str:
        """GET an API path that answers in plain text (a pod's ``log`` subresource); ``None`` values are left out."""
        response = self._request("GET", path, query=_query(**(query or {})) or None, accept=TEXT)
        return bytes(response.read()).decode("utf-8", errors="replace")

    def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        """One object; KubeNotFound when absent."""
        return self._json("GET", resource.path(namespace=namespace, name=name))

    def find(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any] | None:
        """One object, or None when absent."""
        try:
            return self.get(resource, name, namespace=namespace)
        except KubeNotFound:
            return None

    def list_objects(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        """Every matching object (all namespaces when ``namespace`` is None)."""
        query = _query(labelSelector=label_selector, fieldSelector=field_selector)
        body = self._json("GET", resource.path(namespace=namespace), query=query)
        return ObjectList(
            items=list(body.get("items") or []), resource_version=str(body["metadata"]["resourceVersion"])
        )

    def has_resource(self, resource: Resource) -> bool:
        """Whether the API serves this resource type (for example: are Velero's CRDs installed)."""
        group_path = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
        try:
            listing = self._json("GET", group_path)
        except KubeNotFound:
            return False
        return any(r.get("name") == resource.plural for r in listing.get("resources", []))

    # Service proxy
    def proxy_get(
        self,
        namespace: str,
        service: str,
        port: int | str,
        path: str = "/",
        *,
        scheme: str = "",
        max_body: int = 64 * 1024,
        timeout_seconds: float | None = None,
    ) -> HttpResponse:
        """GET ``path`` from a Service through the API server's service proxy (``kubectl get --raw …/proxy/…``).

        Whatever answers is the result, whatever its status: the backend, or the API
        server's own 503 when no ready endpoint backs the Service (``no endpoints
        available for service "web"``); the caller decides what passes. Raised:
        KubeNotFound (no such Service), KubeForbidden (drd may not use the proxy),
        KubeInvalid (a malformed reference), KubeUnavailable (the API server is
        unreachable or sheds load). At most ``max_body`` bytes of body are read.
        """
        reference = f"{scheme}:{service}:{port}" if scheme else f"{service}:{port}"
        backend_path = quote("/" + path.lstrip("/"), safe="/?&=%:@!$'()*+,;~")
        api_path = f"/api/v1/namespaces/{quote(namespace, safe='')}/services/{quote(reference, safe=':')}/proxy"
        headers = {"Accept": "*/*", "User-Agent": self.user_agent}
        self._api.update_params_for_auth(headers, None, ["BearerToken"], api_path, "GET", None)
        timeout = (self.timeout_seconds, timeout_seconds or self.timeout_seconds)
        started = time.perf_counter()
        try:
            response = self._api.call_api(
                "GET", self.host.rstrip("/") + api_path + backend_path, header_params=headers, _request_timeout=timeout
            )
            raw = response.response
            body = raw.read(max_body + 1)
        except k8s.ApiException as exc:
            raise self._status_error(_parse(exc.body), int(exc.status or 0)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"GET {api_path}: unreachable ({type(exc).__name__})", system=self.system) from exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        truncated = len(body) > max_body
        if truncated:
            raw.close()  # a half-read connection must not go back to the pool
        else:
            raw.release_conn()
        received = {str(k).lower(): str(v) for k, v in raw.headers.items()}
        refusal = _proxy_refusal(raw.status, body, received.get("content-type", ""))
        if refusal is not None:
            raise self._status_error(refusal, raw.status)
        return HttpResponse(raw.status, bytes(body[:max_body]), latency_ms, received, truncated)

    # Exec
    def exec(
        self,
        namespace: str,
        pod: str,
        command: Sequence[str],
        *,
        container: str | None = None,
        timeout_seconds: float | None = None,
    ) -> ExecResult:
        """Run ``command`` (an argv, no shell) in a pod's container through the API server, as ``kubectl exec``.

        Waits for the command to end; a non-zero exit code is a result, not an error.
        ``container`` may be omitted for a pod with one container. Raised:
        KubeNotFound (no such pod), KubeInvalid (a container must be named, an unknown
        container, a container not running, no command), KubeForbidden (drd may not use
        ``pods/exec``), KubeUnavailable (the API server is unreachable, the connection
        broke, the command could not be started, or it did not end within
        ``timeout_seconds``, by default the client's timeout). stdout and stderr keep at
        most :data:`EXEC_OUTPUT_LIMIT` characters each.
        """
        if isinstance(command, str):
            raise TypeError(f"command must be an argv list, not the string {command!r}")
        # kubernetes.stream brings websocket-client and requests: only callers of exec pay for importing them
        from kubernetes.stream import stream
        from websocket import WebSocketException  # kubernetes.stream's transport, installed with kubernetes

        what = f"exec in pod {namespace}/{pod}"
        timeout = timeout_seconds or self.timeout_seconds
        # An ApiClient of its own: stream() swaps call_api on the client it is given, which
        # would hijack the requests other threads make through this KubeClient meanwhile.
        api_client = k8s.ApiClient(self._api.configuration)
        try:
            try:
                session = stream(
                    k8s.CoreV1Api(api_client).connect_get_namespaced_pod_exec,
                    pod,
                    namespace,
                    command=list(command),
                    container=container,
                    stdin=False,
                    stdout=True,
                    stderr=True,
                    tty=False,
                    _preload_content=False,
                )
            except k8s.ApiException as exc:
                raise self._exec_refused(exc, what) from exc
            try:
                return self._exec_result(session, what, timeout)
            except (WebSocketException, OSError) as exc:
                raise KubeUnavailable(f"{what}: connection lost ({type(exc).__name__})", system=self.system) from exc
            finally:
                session.close(timeout=0)  # a close frame, without waiting for the server's (it has usually sent it)
                session.sock.shutdown()  # close() leaves the socket open once the server has closed first
        finally:
            api_client.close()  # type: ignore[no-untyped-call]

    def _exec_refused(self, exc: k8s.ApiException, what: str) -> KubeError:
        """The API server's refusal of the upgrade (404, 400, 403…), or the failure to reach it at all."""
        cause = exc.__context__  # kubernetes.stream re-raises the handshake failure as ApiException(status=0)
        code = getattr(cause, "status_code", None)
        if isinstance(code, int):
            return self._status_error(_parse(getattr(cause, "resp_body", None)), code)
        return KubeUnavailable(f"{what}: unreachable ({type(cause or exc).__name__})", system=self.system)

    def _exec_result(self, session: Any, what: str, timeout: float) -> ExecResult:
        """Read stdout, stderr and the exit status until the server closes; the status is channel 3's ``Status``."""
        deadline = time.monotonic() + timeout
        session.sock.settimeout(timeout)  # bounds a read of a frame the server sends only in part
        output: dict[int, str] = {1: "", 2: "", 3: ""}
        while session.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KubeUnavailable(f"{what}: the command did not end within {timeout:g} s", system=self.system)
            session.update(timeout=remaining)
            for channel, text in output.items():
                output[channel] = (text + session.read_channel(channel))[:EXEC_OUTPUT_LIMIT]
            session.read_all()  # drops the client's second copy of stdout and stderr, which would grow unbounded
        status = _parse(output[3])
        if not status:
            raise KubeUnavailable(f"{what}: the connection closed without an exit status", system=self.system)
        if status.get("status") == "Success":
            return ExecResult(0, output[1], output[2])
        causes = (status.get("details") or {}).get("causes") or []
        exit_code = next((str(c.get("message")) for c in causes if c.get("reason") == "ExitCode"), "")
        if status.get("reason") != "NonZeroExitCode" or not exit_code.isdigit():
            raise self._status_error(status, int(status.get("code") or 500))  # the command could not be started
        return ExecResult(int(exit_code), output[1], output[2])

    # Writes
    def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Create; KubeAlreadyExists if the name is taken. ``dry_run``: validated and admitted, not persisted."""
        return self._json("POST", resource.path(namespace=namespace), query=_dry_run(dry_run), body=dict(body))

    def replace(self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None) -> dict[str, Any]:
        """PUT the whole object; a stale resourceVersion is KubeConflict."""
        name = body["metadata"]["name"]
        return self._json("PUT", resource.path(namespace=namespace, name=name), body=dict(body))

    def merge_patch(
        self,
        resource: Resource,
        name: str,
        patch: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """RFC 7386 merge patch (the only safe way to touch Velero objects, which have no status subresource)."""
        path = resource.path(namespace=namespace, name=name, subresource=subresource)
        return self._json("PATCH", path, query=_dry_run(dry_run), body=dict(patch), content_type=MERGE_PATCH)

    def json_patch(
        self,
        resource: Resource,
        name: str,
        operations: list[dict[str, Any]],
        *,
        namespace: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """RFC 6902 JSON patch, sent with the right Content-Type (the client's CustomObjectsApi gets it wrong)."""
        path = resource.path(namespace=namespace, name=name)
        return self._json("PATCH", path, query=_dry_run(dry_run), body=operations, content_type=JSON_PATCH)

    def evict(self, namespace: str, name: str, *, uid: str | None = None, dry_run: bool = False) -> None:
        """Evict a pod through its ``eviction`` subresource (a ``policy/v1`` Eviction), as ``kubectl drain`` does.

        The API server deletes the pod unless a PodDisruptionBudget forbids it.
        ``uid`` makes it a precondition (a replacement with the same name is
        left alone). Raised: KubeNotFound (no such pod), KubeUnavailable with
        ``status`` 429 when a budget allows no disruption now (``causes`` holds
        the ``DisruptionBudget`` cause naming it) or the API sheds load, 500
        when several budgets select the pod.
        """
        body: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if uid:
            body["deleteOptions"] = {"preconditions": {"uid": uid}}
        path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{quote(name, safe='')}/eviction"
        self._json("POST", path, query=_dry_run(dry_run), body=body)

    def sandbox_control_plane(self, version: str | None = None) -> str:
        """The ``drd sandbox`` emulator's control-plane version, first set to ``version`` when given.

        The sandbox's stand-in for a managed platform's API (EKS
        ``UpdateClusterVersion``): ``PUT {"gitVersion": …}`` changes what
        ``/version`` reports. Raised: KubeNotFound (not a sandbox emulator),
        KubeInvalid (a malformed version), KubeUnavailable.
        """
        if version is None:
            document = self._json("GET", SANDBOX_CONTROL_PLANE)
        else:
            document = self._json("PUT", SANDBOX_CONTROL_PLANE, body={"gitVersion": version})
        return str(document.get("gitVersion", ""))

    def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        propagation: str = "Background",
        dry_run: bool = False,
    ) -> None:
        """Delete; KubeNotFound when already gone."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        path = resource.path(namespace=namespace, name=name)
        self._json("DELETE", path, query=_dry_run(dry_run), body=options)

    # Watches
    def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 60,
    ) -> WatchStream:
        """Open a watch; iterate the returned stream for events, ``close()`` it from any thread to stop.

        An expired resourceVersion raises KubeGone while iterating.
        """
        query = _query(
            watch="true",
            resourceVersion=resource_version,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            timeoutSeconds=str(timeout_seconds),
            allowWatchBookmarks="true",
        )
        response = self._request(
            "GET", resource.path(namespace=namespace), query=query, read_timeout=timeout_seconds + 5
        )
        return WatchStream(response.response, self)

    # Plumbing
    def _json(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> dict[str, Any]:
        response = self._request(method, path, query=query, body=body, content_type=content_type)
        data = response.read()
        parsed: dict[str, Any] = json.loads(data) if data else {}
        return parsed

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = JSON,
        read_timeout: float | None = None,
        accept: str = JSON,
    ) -> Any:
        url = self.host.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": accept, "Content-Type": content_type, "User-Agent": self.user_agent}
        self._api.update_params_for_auth(headers, None, ["BearerToken"], path, method, body)
        timeout = (self.timeout_seconds, read_timeout or self.timeout_seconds)
        try:
            response = self._api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
        except k8s.ApiException as exc:
            raise self._status_error(_parse(exc.body), int(exc.status or 0)) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"{method} {path}: unreachable ({type(exc).__name__})", system=self.system) from exc
        if response.status >= 400:
            raise self._status_error(_parse(response.read()), response.status)
        return response

    def _status_error(self, status: Mapping[str, Any], code: int) -> KubeError:
        message = str(status.get("message") or status.get("reason") or f"HTTP {code}")
        reason = status.get("reason")
        error_type: type[KubeError]
        if code == 404:
            error_type = KubeNotFound
        elif code == 409:
            error_type = KubeAlreadyExists if reason == "AlreadyExists" else KubeConflict
        elif code in (400, 415, 422):
            error_type = KubeInvalid
        elif code in (401, 403):
            error_type = KubeForbidden
        elif code == 410:
            error_type = KubeGone
        else:
            error_type = KubeUnavailable
        error = error_type(message, system=self.system, status=code)
        details = status.get("details")
        causes = details.get("causes") if isinstance(details, dict) else None
        if isinstance(causes, list):  # kept for callers: an eviction's DisruptionBudget cause names the budget
            error.causes = tuple({str(k): str(v) for k, v in c.items()} for c in causes if isinstance(c, dict))
        return error


class WatchStream:
    """The events of one watch request."""

    def __init__(self, response: Any, kube: KubeClient) -> None:
        self._response = response
        self._kube = kube
        self._closed = False

    def __iter__(self) -> Iterator[WatchEvent]:
        try:
            for line in _lines(self._response):
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise self._kube._status_error(status, int(status.get("code", 500)))
                yield WatchEvent(type=str(event["type"]), object=event["object"])
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            if not self._closed:
                raise KubeUnavailable(f"watch interrupted: {type(exc).__name__}", system=self._kube.system) from exc
        finally:
            self._response.release_conn()

    def close(self) -> None:
        """Interrupt the watch (safe from another thread)."""
        self._closed = True
        try:
            self._response.shutdown()
        except (ValueError, OSError, RuntimeError):  # already finished or released: nothing left to interrupt
            self._response.close()


def _query(**params: str | None) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params.items() if v]


def _dry_run(dry_run: bool) -> list[tuple[str, str]] | None:
    """``dryRun=All``: the server validates, admits and answers as if it wrote, and persists nothing."""
    return [("dryRun", "All")] if dry_run else None


def _proxy_refusal(status: int, body: bytes, content_type: str) -> dict[str, Any] | None:
    """The API server's Status when it refused the proxy request itself, rather than relaying an answer.

    A 404 counts only when it names the Service (a backend's own 404 is a result),
    and a 503 never does: "no endpoints available" is what the check must see.
    """
    if status not in (400, 401, 403, 404, 429) or not content_type.startswith("application/json"):
        return None
    document = _parse(body)
    if document.get("kind") != "Status":
        return None
    if status == 404 and (document.get("details") or {}).get("kind") != "services":
        return None
    return document


def _parse(data: Any) -> dict[str, Any]:
    if not data:
        return {}
    try:
        parsed = json.loads(data)
    except (ValueError, TypeError):
        return {"message": str(data)[:200]}
    return parsed if isinstance(parsed, dict) else {}


def _lines(response: Any) -> Iterator[bytes]:
    pending = b""
    for chunk in response.stream(amt=65536, decode_content=False):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending


_KUBECONFIGS: dict[tuple[str, int, int], dict[str, Any]] = {}
_KUBECONFIGS_LOCK = threading.Lock()


def _parsed_kubeconfig(path: str) -> dict[str, Any]:
    """The kubeconfig file as a dict, parsed once while its size and mtime stay the same.

    An inventory of N clusters usually shares one kubeconfig with N contexts: parsing it
    once per cluster costs N² (PyYAML's pure-Python loader, ~55 ms for 100 contexts).
    """
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    with _KUBECONFIGS_LOCK:
        parsed = _KUBECONFIGS.get(key)
        if parsed is None:
            with open(path, encoding="utf-8") as handle:
                loaded = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders only
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: not a kubeconfig (expected a mapping)")
            parsed = loaded
            for stale in [k for k in _KUBECONFIGS if k[0] == key[0]]:
                del _KUBECONFIGS[stale]
            _KUBECONFIGS[key] = parsed
    return copy.deepcopy(parsed)
