"""URL paths of the Kubernetes API, parsed into what they address.

``/api/v1/namespaces/ns/configmaps/c`` → :class:`ResourcePath` (core group,
namespace ``ns``, plural ``configmaps``, name ``c``); discovery paths →
:class:`DiscoveryPath`; a Service's proxy (``/api/v1/namespaces/ns/services/web:80/proxy/healthz``)
→ :class:`ProxyPath`. Parsing is purely syntactic: whether the resource exists
and the scope is right is decided against the registry by the API layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DiscoveryKind = Literal["version", "api", "apis", "group", "group_version", "openapi", "health", "metrics"]

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_FIXED: dict[str, DiscoveryKind] = {"version": "version", "api": "api", "apis": "apis", "metrics": "metrics"}
_SERVICE_PROXY = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/services/(?P<service>[^/]+)/proxy(?P<path>/.*)?$")


@dataclass(frozen=True, slots=True)
class DiscoveryPath:
    """A discovery or server-information path."""

    kind: DiscoveryKind
    group: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class ResourcePath:
    """A path addressing a collection, an object or an object's subresource."""

    group: str
    version: str
    plural: str
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    watch: bool = False
    """The deprecated ``/watch/`` path prefix was used."""


@dataclass(frozen=True, slots=True)
class ProxyPath:
    """The proxy subresource of a Service: the request goes on to one of its Ready pods."""

    namespace: str
    service: str
    """The service reference as written: ``name``, ``name:port`` or ``scheme:name:port``."""
    path: str
    """The path for the backend, from its leading ``/`` (``/`` when the URL ends at ``proxy``)."""


def parse(path: str) -> DiscoveryPath | ResourcePath | ProxyPath | None:
    """What an URL path (without query) addresses, or ``None`` if no API serves it."""
    proxied = _SERVICE_PROXY.match(path)
    if proxied:
        return ProxyPath(proxied["ns"], proxied["service"], proxied["path"] or "/")
    return _api_path(path)


def _api_path(path: str) -> DiscoveryPath | ResourcePath | None:
    segments = [s for s in path.split("/") if s]
    if len(segments) == 1 and segments[0] in _FIXED:
        return DiscoveryPath(_FIXED[segments[0]])
    if segments and segments[0] in ("healthz", "readyz", "livez", "openapi"):
        return DiscoveryPath("openapi" if segments[0] == "openapi" else "health")
    if len(segments) >= 2 and segments[0] == "api":
        group, version, rest = "", segments[1], segments[2:]
    elif len(segments) >= 2 and segments[0] == "apis":
        if len(segments) == 2:
            return DiscoveryPath("group", group=segments[1])
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        return None
    if not rest:
        return DiscoveryPath("group_version", group=group, version=version)
    return _resource(group, version, rest)


def _resource(group: str, version: str, rest: list[str]) -> ResourcePath | None:
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return ResourcePath(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
        watch=watch,
    )
