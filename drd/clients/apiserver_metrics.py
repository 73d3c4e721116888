"""The API server's own ``/metrics``, read through a cluster's KubeClient: which deprecated APIs were requested.

kube-apiserver sets ``apiserver_requested_deprecated_apis{group,version,resource,
subresource,removed_release}`` to 1 once any client requested a deprecated API
version since it started. Objects cannot tell (the API server converts them to
whatever version is asked for), so this metric is how pre-flight learns that
something still calls an API the target release removes. Reading it needs
``get`` on the non-resource URL ``/metrics``: without it the API server
answers 403 (:class:`~drd.clients.errors.KubeForbidden`), which callers must
report, never take as "nothing deprecated".
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from drd.clients.errors import KubeError
from drd.clients.kube import KubeClient
from drd.errors import PermanentError

DEPRECATED_APIS = "apiserver_requested_deprecated_apis"


class MetricsUnreadable(KubeError, PermanentError):
    """``/metrics`` answered, but not in Prometheus' text format."""


@dataclass(frozen=True, slots=True)
class DeprecatedApiRequest:
    """A deprecated API version some client requested, and the release that removes it (``""``: none planned)."""

    group: str
    version: str
    resource: str
    subresource: str = ""
    removed_release: str = ""


def deprecated_api_requests(kube: KubeClient) -> tuple[DeprecatedApiRequest, ...]:
    """Every deprecated API requested since the API server started, sorted; raises KubeError when unreadable."""
    text = kube.get_text("/metrics")
    found: set[DeprecatedApiRequest] = set()
    try:
        for family in text_string_to_metric_families(text):
            if family.name != DEPRECATED_APIS:
                continue
            for sample in family.samples:
                if sample.value > 0:
                    labels = sample.labels
                    found.add(
                        DeprecatedApiRequest(
                            group=labels.get("group", ""),
                            version=labels.get("version", ""),
                            resource=labels.get("resource", ""),
                            subresource=labels.get("subresource", ""),
                            removed_release=labels.get("removed_release", ""),
                        )
                    )
    except ValueError as exc:
        raise MetricsUnreadable(f"/metrics is not in Prometheus' text format: {exc}", system=kube.system) from exc
    return tuple(sorted(found, key=lambda api: (api.group, api.version, api.resource, api.subresource)))
