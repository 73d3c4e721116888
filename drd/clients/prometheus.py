"""Prometheus' HTTP API (``GET /api/v1/query``): instant queries as (labels, value) samples, with typed errors.

A metric gate asks Prometheus one question at a time and must tell "no data"
from "Prometheus is down" from "the query is wrong". Classification, once:
unreachable, 5xx (503 included: a timeout or an overloaded server) and 429
are :class:`PrometheusUnavailable` (temporary); 400 ``bad_data`` (invalid
PromQL), 422 (the query cannot be executed), 401/403/404 and answers that
are not Prometheus' JSON are :class:`PrometheusRefused` (permanent). Every
message names the server (without credentials or query string) and the query.
``NaN`` and infinities are kept as floats: whether they pass is the gate's
business, not the transport's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import urllib3

from drd.clients.errors import ClientError
from drd.clients.http import display_url
from drd.errors import PermanentError, TemporaryError

QUERY_SHOWN = 200
"""At most this many characters of a query appear in an error message."""


class PrometheusError(ClientError):
    """A Prometheus API request failed."""


class PrometheusUnavailable(PrometheusError, TemporaryError):
    """Prometheus is unreachable, overloaded or timed out (5xx, 429, connection errors)."""


class PrometheusRefused(PrometheusError, PermanentError):
    """The query is invalid or cannot run, access is refused, or the URL is not a Prometheus API."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of an instant vector: its labels and its value (``nan`` and ``±inf`` included)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    value: float = math.nan

    @property
    def series(self) -> str:
        """``{job="api",code="500"}``, or ``{}`` for a series without labels (a scalar, an aggregate)."""
        return "{" + ",".join(f'{key}="{value}"' for key, value in sorted(self.labels.items())) + "}"


class PrometheusClient:
    """One Prometheus server, by base URL (``http://prometheus:9090``, or with a path prefix)."""

    def __init__(self, url: str, *, timeout_seconds: float = 10.0) -> None:
        parsed = urllib3.util.parse_url(url.rstrip("/"))
        self._headers = {"Accept": "application/json", "User-Agent": "drd"}
        if parsed.auth:  # credentials in the URL: HTTP Basic, never shown
            self._headers.update(urllib3.util.make_headers(basic_auth=unquote(parsed.auth)))
        self.url = parsed._replace(auth=None).url
        self.timeout_seconds = timeout_seconds
        self._pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(timeout_seconds))

    @property
    def system(self) -> str:
        """How errors name the server."""
        return f"prometheus {display_url(self.url)}"

    def close(self) -> None:
        """Release pooled connections."""
        self._pool.clear()

    def query(self, expr: str) -> tuple[Sample, ...]:
        """The instant vector ``expr`` evaluates to now (a scalar becomes one sample without labels).

        An empty tuple means "no data". A range vector or a string answer is
        refused (a gate compares numbers). Raised: PrometheusUnavailable,
        PrometheusRefused.
        """
        shown = _shorten(expr)
        try:
            response = self._pool.request(
                "GET",
                f"{self.url}/api/v1/query",
                fields={"query": expr},
                headers=self._headers,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PrometheusUnavailable(f"query {shown}: unreachable ({_reason(exc)})", system=self.system) from exc
        body = _json(response.data)
        if response.status >= 400 or body.get("status") != "success":
            raise self._refusal(response.status, body, shown)
        return _samples(body.get("data"), shown, self.system)

    def _refusal(self, status: int, body: Mapping[str, Any], shown: str) -> PrometheusError:
        kind = str(body.get("errorType") or f"HTTP {status}")
        detail = str(body.get("error") or "no error message")
        if status == 400 and kind == "bad_data":
            return PrometheusRefused(f"invalid query {shown}: {detail}", system=self.system, status=status)
        if status >= 500 or status == 429:
            return PrometheusUnavailable(f"query {shown}: {kind}: {detail}", system=self.system, status=status)
        if status in (401, 403):
            message = f"query {shown}: access refused (HTTP {status}); check the URL's credentials"
            return PrometheusRefused(message, system=self.system, status=status)
        if status == 404:
            message = f"query {shown}: no Prometheus API at this URL (HTTP 404); is it the server's base URL?"
            return PrometheusRefused(message, system=self.system, status=status)
        return PrometheusRefused(f"query {shown}: {kind}: {detail}", system=self.system, status=status)


def _samples(data: Any, shown: str, system: str) -> tuple[Sample, ...]:
    if not isinstance(data, Mapping):
        raise PrometheusRefused(f"query {shown}: the answer has no data", system=system)
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return (Sample({}, _number(result[1])),)
    if kind != "vector" or not isinstance(result, list):
        raise PrometheusRefused(
            f"query {shown} returns a {kind}: a gate needs an instant vector or a scalar", system=system
        )
    samples = []
    for item in result:
        metric = item.get("metric") or {}
        value = item.get("value") or (None, "NaN")
        samples.append(Sample({str(k): str(v) for k, v in metric.items()}, _number(value[1])))
    return tuple(samples)


def _number(text: Any) -> float:
    """Prometheus' sample value (a string: ``"0.5"``, ``"NaN"``, ``"+Inf"``) as a float; unreadable → ``nan``."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data) if data else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _shorten(expr: str) -> str:
    flat = " ".join(expr.split())
    return repr(flat if len(flat) <= QUERY_SHOWN else flat[: QUERY_SHOWN - 1] + "…")


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "reason", None) or exc
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "the host name does not resolve"
    if isinstance(cause, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, urllib3.exceptions.TimeoutError | TimeoutError):
        return "timed out"
    return type(cause).__name__
