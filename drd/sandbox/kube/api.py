"""The REST semantics of the API server, independent of sockets.

:class:`Api` maps one parsed HTTP request (:class:`Request`) to a store call and
returns a :class:`Response` (a JSON document) or a :class:`WatchResponse` (a
stream of watch events). It decides verbs from method and path, reads query
parameters (selectors, pagination, ``dryRun``, ``propagationPolicy``,
``timeoutSeconds``...), picks the patch flavour from ``Content-Type`` and
negotiates the response format from ``Accept``. Errors are raised as
:class:`errors.KubeApiError` and rendered as ``Status`` by the HTTP layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from drd.sandbox.kube import discovery, errors, eviction, logs, openapi, platform, proxy, routing, tables, watch
from drd.sandbox.kube import exec as pod_exec
from drd.sandbox.kube.deletion import Propagation
from drd.sandbox.kube.metrics import ApiMetrics
from drd.sandbox.kube.patches import PatchType
from drd.sandbox.kube.registry import ResourceType
from drd.sandbox.kube.selectors import FieldSelector, LabelSelector
from drd.sandbox.kube.store import Obj, Store

PATCH_TYPES: dict[str, PatchType] = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}
JSON_TYPES = frozenset({"application/json", "*/*", "application/*", ""})
PROPAGATION: frozenset[str] = frozenset({"Background", "Foreground", "Orphan"})


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, already read off the socket."""

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """The last value of a query parameter."""
        values = self.query.get(name)
        return values[-1] if values else None

    def flag(self, name: str) -> bool:
        """A boolean query parameter (``1``/``true``)."""
        return (self.param(name) or "").lower() in ("1", "true")

    def header(self, name: str) -> str:
        """A header value (case-insensitive), ``""`` when absent."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return ""


@dataclass(frozen=True, slots=True)
class Response:
    """A complete JSON response."""

    code: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """A streamed watch: the HTTP layer writes each event as one chunk, then ends the stream."""

    events: Callable[[Callable[[], bool]], Iterator[Obj]]
    """Called with an ``alive()`` probe of the client connection; yields ``{"type", "object"}`` events."""
    close: Callable[[], None]
    """Ends the stream early (emulator stopping)."""


def media_types(header: str) -> list[tuple[str, dict[str, str]]]:
    """Parse an ``Accept`` or ``Content-Type`` header into ``(type, params)`` pairs."""
    parsed = []
    for item in header.split(","):
        pieces = [p.strip() for p in item.split(";")]
        params = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip()] = value.strip()
        parsed.append((pieces[0].lower(), params))
    return parsed


class Api:
    """Request → store call → response, for one emulated cluster."""

    def __init__(
        self,
        store: Store,
        *,
        git_version: str,
        server_address: Callable[[], str],
        bookmark_interval: float = 60.0,
    ) -> None:
        self.store = store
        self.git_version = git_version
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval
        self.metrics = ApiMetrics()
        """``GET /metrics``: request counts (by the HTTP layer) and deprecated APIs requested."""

    # ------------------------------------------------------------------ dispatch

    def handle(self, request: Request) -> Response | WatchResponse | pod_exec.ExecSession:
        """Serve one request; raises :class:`errors.KubeApiError` for failures."""
        if platform.addresses(request.path):  # the sandbox's stand-in for a managed platform's API
            body, self.git_version = platform.control_plane(
                request.method, request.path, request.body, self.git_version
            )
            return Response(200, body)
        target = routing.parse(request.path)
        if target is None:
            raise errors.RouteNotFound()
        if isinstance(target, routing.DiscoveryPath):
            return self._discovery(request, target)
        if isinstance(target, routing.ProxyPath):
            return Response(*proxy.serve(self.store, request.method, target))
        rt = self._resource(target)
        self.metrics.requested_deprecated(rt, target.subresource)
        if target.subresource == "exec" and target.name is not None and target.namespace is not None:
            if request.method.upper() not in ("GET", "POST"):
                raise errors.MethodNotAllowed()
            return pod_exec.open_session(
                self.store, request.query, request.headers, namespace=target.namespace, name=target.name
            )
        if target.subresource == "eviction" and target.name is not None and target.namespace is not None:
            if request.method.upper() != "POST":
                raise errors.MethodNotAllowed()
            body = self._json_body(request)
            status = eviction.evict(
                self.store, body, namespace=target.namespace, name=target.name, dry_run=_dry_run(request)
            )
            return Response(201, status)
        verbs: dict[str, Callable[[Request, ResourceType, routing.ResourcePath], Response | WatchResponse]] = {
            "GET": self._get,
            "POST": self._create,
            "PUT": self._update,
            "PATCH": self._patch,
            "DELETE": self._delete,
        }
        verb = verbs.get(request.method.upper())
        if verb is None:
            raise errors.MethodNotAllowed()
        response = verb(request, rt, target)
        if rt.deprecation is not None and isinstance(response, Response):  # as the API server warns clients
            warning = rt.deprecation.warning(rt.api_version, rt.kind)
            response = Response(response.code, response.body, {**response.headers, "Warning": warning})
        return response

    def _resource(self, target: routing.ResourcePath) -> ResourceType:
        rt = self.store.registry.get(target.group, target.version, target.plural)
        if rt is None or (rt.deprecation is not None and rt.deprecation.removed_by(self.git_version)):
            raise errors.RouteNotFound()
        if target.namespace is not None and not rt.namespaced:
            raise errors.RouteNotFound()
        if rt.namespaced and target.name is not None and target.namespace is None:
            raise errors.RouteNotFound()
        sub = target.subresource
        if sub is not None and not (
            (sub == "status" and rt.status_subresource)
            or (sub == "scale" and rt.scale is not None)
            or (sub == "finalize" and rt.plural == "namespaces" and not rt.group)
            or (sub in ("log", "exec", "eviction") and rt.plural == "pods" and not rt.group)
        ):
            raise errors.RouteNotFound()
        return rt

    # ------------------------------------------------------------------ discovery

    def _discovery(self, request: Request, target: routing.DiscoveryPath) -> Response:
        if request.method.upper() != "GET":
            raise errors.MethodNotAllowed()
        registry = self.store.registry
        body: Obj | None
        if target.kind == "version":
            body = discovery.version_info(self.git_version)
        elif target.kind == "health":
            return Response(200, "ok")
        elif target.kind == "metrics":
            return Response(200, self.metrics.render())
        elif target.kind == "openapi":
            body = openapi.document(registry, request.path)
        else:
            self._negotiate_json(request)
            if target.kind == "api":
                body = discovery.api_versions(self.server_address())
            elif target.kind == "apis":
                body = discovery.api_group_list(registry)
            elif target.kind == "group":
                body = discovery.api_group(registry, target.group)
            else:
                body = discovery.api_resource_list(registry, target.group, target.version)
        if body is None:
            raise errors.RouteNotFound()
        return Response(200, body)

    def _negotiate_json(self, request: Request) -> None:
        """Accept plain JSON (or anything); refuse requests that can only take another representation."""
        accept = request.header("Accept")
        if not accept:
            return
        for media, params in media_types(accept):
            if media in JSON_TYPES and "as" not in params:
                return
        raise errors.NotAcceptable(accept)

    def _wants_table(self, request: Request) -> bool:
        for media, params in media_types(request.header("Accept")):
            if media == "application/json" and params.get("as") == "Table":
                return True
            if media in JSON_TYPES and "as" not in params:
                return False
        return False

    # ------------------------------------------------------------------ verbs

    def _get(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> Response | WatchResponse:
        if target.name is None:
            if target.watch or request.flag("watch"):
                return self._watch(request, rt, target)
            return self._list(request, rt, target)
        if target.watch:
            return self._watch(request, rt, target)
        if target.subresource == "log":
            return self._log(request, rt, target.name, target.namespace)
        obj = self.store.get(rt, target.name, namespace=target.namespace, subresource=_scale_only(target))
        if self._wants_table(request) and target.subresource is None:
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            return Response(200, tables.table(rt, [obj], now=self.store.clock.now(), meta=meta))
        self._negotiate_json(request)
        return Response(200, obj)

    def _log(self, request: Request, rt: ResourceType, name: str, namespace: str | None) -> Response:
        """``pods/<name>/log``: plain text (the HTTP layer sends a ``str`` body as ``text/plain``)."""
        tail = _int_param(request, "tailLines")
        if tail is not None and tail < 0:  # ValidatePodLogOptions, reported as NewInvalid (422)
            problem = errors.invalid_value("tailLines", tail, "must be greater than or equal to 0")
            raise errors.Invalid(errors.GroupKind("", "PodLogOptions"), name, [problem])
        pod = self.store.get(rt, name, namespace=namespace)
        return Response(200, logs.pod_log(pod, container=request.param("container") or None, tail_lines=tail))

    def _list(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> Response:
        limit = _int_param(request, "limit")
        page = self.store.list_page(
            rt,
            namespace=target.namespace,
            label_selector=LabelSelector.parse(request.param("labelSelector")),
            field_selector=FieldSelector.parse(request.param("fieldSelector")),
            limit=limit if limit and limit > 0 else None,
            continue_token=request.param("continue") or None,
        )
        meta: Obj = {"resourceVersion": str(page.resource_version)}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if page.remaining is not None:
            meta["remainingItemCount"] = page.remaining
        if self._wants_table(request):
            return Response(200, tables.table(rt, page.items, now=self.store.clock.now(), meta=meta))
        self._negotiate_json(request)
        return Response(
            200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": page.items}
        )

    def _watch(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> WatchResponse:
        fields = FieldSelector.parse(request.param("fieldSelector"))
        if target.name is not None:
            fields = FieldSelector(
                (*fields.requirements, *FieldSelector.parse(f"metadata.name={target.name}").requirements)
            )
        rv_param = request.param("resourceVersion") or ""
        send_initial = request.flag("sendInitialEvents")
        since = None if send_initial or rv_param in ("", "0") else _parse_rv(rv_param)
        timeout = _int_param(request, "timeoutSeconds")
        options = watch.WatchOptions(
            labels=LabelSelector.parse(request.param("labelSelector")),
            fields=fields,
            timeout=float(timeout) if timeout and timeout > 0 else 1800.0,
            bookmarks=request.flag("allowWatchBookmarks"),
            bookmark_interval=self.bookmark_interval,
            initial_events_end=send_initial and request.flag("allowWatchBookmarks"),
        )
        try:
            sub = self.store.watch(rt, namespace=target.namespace, since=since)
        except errors.Gone as e:
            expired = watch.error_event(e)
            return WatchResponse(events=lambda _alive: iter([expired]), close=lambda: None)

        as_table = self._wants_table(request)
        if not as_table:
            self._negotiate_json(request)

        def events(alive: Callable[[], bool]) -> Iterator[Obj]:
            stream = watch.stream(rt, sub, options, alive=alive)
            return self._tabulate(rt, stream) if as_table else stream

        return WatchResponse(events=events, close=sub.close)

    def _tabulate(self, rt: ResourceType, stream: Iterator[Obj]) -> Iterator[Obj]:
        """Watch events for ``kubectl get -w``: objects become one-row Tables; only the first has column headers."""
        headers = True
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                rendered = tables.table(rt, [event["object"]], now=self.store.clock.now())
                if not headers:
                    rendered["columnDefinitions"] = []
                headers = False
                yield {"type": event["type"], "object": rendered}
            else:
                yield event

    def _create(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> Response:
        if target.name is not None or target.subresource is not None:
            raise errors.MethodNotAllowed()
        if "create" not in rt.verbs or (rt.namespaced and target.namespace is None):
            raise errors.MethodNotAllowed()
        body = self._json_body(request)
        created = self.store.create(rt, body, namespace=target.namespace, dry_run=_dry_run(request))
        return Response(201, created)

    def _update(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> Response:
        if target.name is None:
            raise errors.MethodNotAllowed()
        body = self._json_body(request)
        updated = self.store.update(
            rt,
            body,
            namespace=target.namespace,
            name=target.name,
            subresource=target.subresource,
            dry_run=_dry_run(request),
        )
        return Response(200, updated)

    def _patch(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> Response:
        if target.name is None:
            raise errors.MethodNotAllowed()
        content_type = media_types(request.header("Content-Type"))[0][0]
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None:
            accepted = ", ".join(t for t, kind in PATCH_TYPES.items() if not (rt.custom and kind == "strategic"))
            raise errors.UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: {accepted}"
            )
        patch = _decode_json(request.body)
        patched = self.store.patch(
            rt,
            target.name,
            patch,
            namespace=target.namespace,
            patch_type=patch_type,
            subresource=target.subresource,
            dry_run=_dry_run(request),
        )
        return Response(200, patched)

    def _delete(self, request: Request, rt: ResourceType, target: routing.ResourcePath) -> Response:
        if target.subresource is not None:
            raise errors.MethodNotAllowed()
        options = self._delete_options(request)
        propagation = cast(Propagation | None, options.get("propagationPolicy"))
        dry_run = _dry_run(request) or "All" in (options.get("dryRun") or [])
        if target.name is None:
            if "deletecollection" not in rt.verbs:
                raise errors.MethodNotAllowed()
            deleted = self.store.delete_collection(
                rt,
                namespace=target.namespace,
                label_selector=request.param("labelSelector") or "",
                field_selector=request.param("fieldSelector") or "",
                propagation_policy=propagation,
                dry_run=dry_run,
            )
            return Response(200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": {}, "items": deleted})
        obj, gone = self.store.delete(
            rt,
            target.name,
            namespace=target.namespace,
            propagation_policy=propagation,
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
        )
        if not gone or rt.return_deleted_object:
            return Response(200, obj)
        meta = obj["metadata"]
        return Response(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": meta["name"],
                    **({"group": rt.group} if rt.group else {}),
                    "kind": rt.plural,
                    "uid": meta["uid"],
                },
            },
        )

    # ------------------------------------------------------------------ bodies and parameters

    def _json_body(self, request: Request) -> Any:
        media = media_types(request.header("Content-Type"))[0][0]
        if media not in ("application/json", ""):
            raise errors.UnsupportedMediaType(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"application/json (the emulator does not decode {media})"
            )
        return _decode_json(request.body)

    def _delete_options(self, request: Request) -> Obj:
        options: Obj = {}
        if request.body.strip():
            body = _decode_json(request.body)
            if not isinstance(body, dict):
                raise errors.BadRequest("DeleteOptions must be an object")
            options.update(body)
        for param in ("propagationPolicy", "gracePeriodSeconds"):
            value = request.param(param)
            if value is not None:
                options[param] = value
        orphan = request.param("orphanDependents") or options.get("orphanDependents")
        if str(orphan).lower() == "true" and "propagationPolicy" not in options:
            options["propagationPolicy"] = "Orphan"
        policy = options.get("propagationPolicy")
        if policy is not None and policy not in PROPAGATION:
            raise errors.BadRequest(f"propagationPolicy: Unsupported value: {json.dumps(policy)}")
        return options


def _scale_only(target: routing.ResourcePath) -> str | None:
    return "scale" if target.subresource == "scale" else None


def _decode_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as e:
        raise errors.BadRequest(f"error decoding request body: {e}") from e


def _dry_run(request: Request) -> bool:
    return any(v == "All" for v in request.query.get("dryRun", []))


def _int_param(request: Request, name: str) -> int | None:
    value = request.param(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as e:
        raise errors.BadRequest(f"{name}: invalid value {value!r}: must be an integer") from e


def _parse_rv(value: str) -> int:
    try:
        return int(value)
    except ValueError as e:
        raise errors.BadRequest(f'resourceVersion: Invalid value: "{value}": must be a valid resource version') from e
