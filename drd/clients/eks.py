"""Amazon EKS over boto3: what drd's ``eks`` upgrade provider needs, as plain dataclasses and typed errors.

One :class:`EksClient` per EKS cluster. The provider depends on :class:`EksApi`
(a Protocol), so tests drive it with an in-memory fake; this adapter is the
production implementation, checked against the wire with botocore's Stubber
and against moto's server for the operations moto implements.

botocore's exceptions stop here. They become :class:`EksError` subclasses
naming the cluster and the action: throttling, 5xx and lost connections are
:class:`EksUnavailable` (temporary); a missing cluster, node group, add-on or
update is :class:`EksNotFound`; a request EKS refuses (``InvalidParameter``,
``InvalidRequest``, ``InvalidState`` such as upgrade-readiness insights
blocking ``UpdateClusterVersion``, access denied) is :class:`EksRefused`. An
HTTP 404 *without* an EKS error code is not "not found": it is an endpoint
that does not implement the operation (moto implements 17 of EKS's 70), and
becomes :class:`EksNotImplemented`. All three are permanent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import boto3
import botocore.config
import botocore.exceptions

from drd.clients.errors import ClientError
from drd.errors import PermanentError, TemporaryError

UPGRADE_READINESS = "UPGRADE_READINESS"

_UNAVAILABLE = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServerException",
    "ServiceUnavailableException",
    "ResourcePropagationDelayException",
    "InternalFailure",
}
_BUSY = {"ResourceInUseException"}
_NOT_FOUND = {"ResourceNotFoundException", "NotFoundException"}


class EksError(ClientError):
    """An EKS request failed; ``code`` is EKS's error code (``InvalidStateException``) or the HTTP status."""

    def __init__(self, message: str, *, system: str, code: str = "", status: int | None = None) -> None:
        super().__init__(message, system=system, status=status)
        self.code = code


class EksNotFound(EksError, PermanentError):
    """The cluster, node group, add-on, update or insight does not exist (``ResourceNotFoundException``)."""


class EksRefused(EksError, PermanentError):
    """EKS refused the request as it stands (invalid parameter or state, access denied, …)."""


class EksNotImplemented(EksError, PermanentError):
    """The endpoint answered 404 without an EKS error code: it does not implement the operation (moto)."""


class EksUnavailable(EksError, TemporaryError):
    """Throttling, a 5xx, a busy resource or a lost connection: the request may succeed later."""


@dataclass(frozen=True, slots=True)
class EksCluster:
    """What ``DescribeCluster`` says about the control plane."""

    name: str
    version: str
    """The Kubernetes minor, ``1.31`` (EKS chooses the patch)."""
    status: str
    platform_version: str = ""


@dataclass(frozen=True, slots=True)
class UpdateError:
    """One ``errors[]`` entry of an update: ``PodEvictionFailure`` and the node groups or nodes it names."""

    code: str
    message: str
    resource_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f" (resources: {', '.join(self.resource_ids)})" if self.resource_ids else ""
        return f"{self.code}: {self.message}{where}"


@dataclass(frozen=True, slots=True)
class EksUpdate:
    """An asynchronous EKS update: ``InProgress`` until ``Successful``, ``Failed`` or ``Cancelled``."""

    id: str
    status: str
    type: str = ""
    params: tuple[tuple[str, str], ...] = ()
    errors: tuple[UpdateError, ...] = ()


@dataclass(frozen=True, slots=True)
class EksNodegroup:
    """A managed node group."""

    name: str
    version: str
    release_version: str = ""
    status: str = ""
    ami_type: str = ""


@dataclass(frozen=True, slots=True)
class EksAddon:
    """An installed add-on and its version (``v1.19.0-eksbuild.1``)."""

    name: str
    version: str
    status: str = ""


@dataclass(frozen=True, slots=True)
class AddonVersion:
    """One available version of an add-on: the cluster minors it supports and those it is the default for."""

    version: str
    cluster_versions: tuple[str, ...]
    default_for: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InsightSummary:
    """One ``ListInsights`` entry; ``status`` is ``PASSING``, ``WARNING``, ``ERROR`` or ``UNKNOWN``."""

    id: str
    name: str
    status: str
    reason: str = ""
    description: str = ""
    kubernetes_version: str = ""
    last_refresh: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClientStat:
    """A client still calling a deprecated API: its user agent and how much it called in the last 30 days."""

    user_agent: str
    requests_last_30_days: int = 0
    last_request: datetime | None = None


@dataclass(frozen=True, slots=True)
class Deprecation:
    """A deprecated API in use (``usage``), what replaces it and from which minor it is no longer served."""

    usage: str
    replaced_with: str = ""
    stop_serving_version: str = ""
    clients: tuple[ClientStat, ...] = ()


@dataclass(frozen=True, slots=True)
class Insight:
    """``DescribeInsight``: the summary plus the resources it names, the deprecations and the recommendation."""

    summary: InsightSummary
    recommendation: str = ""
    resources: tuple[str, ...] = ()
    """Kubernetes resource URIs or ARNs of the resources the insight is about."""
    deprecations: tuple[Deprecation, ...] = ()


class EksApi(Protocol):
    """What the ``eks`` upgrade provider needs of one EKS cluster (tests implement it in memory)."""

    name: str
    """The EKS cluster name."""

    def describe_cluster(self) -> EksCluster: ...

    def update_cluster_version(self, version: str, *, token: str) -> EksUpdate: ...

    def describe_update(self, update_id: str, *, nodegroup: str = "", addon: str = "") -> EksUpdate: ...

    def list_nodegroups(self) -> list[str]: ...

    def describe_nodegroup(self, nodegroup: str) -> EksNodegroup: ...

    def update_nodegroup_version(self, nodegroup: str, version: str, *, token: str, force: bool) -> EksUpdate: ...

    def list_addons(self) -> list[str]: ...

    def describe_addon(self, addon: str) -> EksAddon: ...

    def describe_addon_versions(self, addon: str, kubernetes_version: str) -> list[AddonVersion]: ...

    def update_addon(self, addon: str, version: str, *, token: str) -> EksUpdate: ...

    def list_insights(self, kubernetes_version: str) -> list[InsightSummary]: ...

    def describe_insight(self, insight_id: str) -> Insight: ...


class EksClient:
    """The EKS API of one cluster over boto3 (see the module docstring)."""

    def __init__(self, name: str, *, region: str, client: Any = None) -> None:
        self.name = name
        self.region = region
        self._eks = client if client is not None else self.boto_client(region)

    @staticmethod
    def boto_client(region: str, *, endpoint_url: str | None = None) -> Any:
        """A boto3 EKS client for ``region``; boto3 itself honours ``AWS_ENDPOINT_URL`` when no URL is given."""
        return boto3.client(
            "eks",
            region_name=region,
            endpoint_url=endpoint_url or None,
            config=botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=30),
        )

    @property
    def system(self) -> str:
        return f'eks cluster "{self.name}" ({self.region})'

    # ------------------------------------------------------------------ control plane

    def describe_cluster(self) -> EksCluster:
        """The control plane's Kubernetes minor and status."""
        with self._translated("describe cluster"):
            found = self._eks.describe_cluster(name=self.name)["cluster"]
        return EksCluster(
            name=found["name"],
            version=found.get("version", ""),
            status=found.get("status", ""),
            platform_version=found.get("platformVersion", ""),
        )

    def update_cluster_version(self, version: str, *, token: str) -> EksUpdate:
        """Start the control plane's move to minor ``version``; the same ``token`` returns the same update."""
        with self._translated(f"update cluster version to {version}"):
            return _update(self._eks.update_cluster_version(name=self.name, version=version, clientRequestToken=token))

    def describe_update(self, update_id: str, *, nodegroup: str = "", addon: str = "") -> EksUpdate:
        """An update's status and errors (of the cluster, or of a node group or add-on when named)."""
        params: dict[str, str] = {"name": self.name, "updateId": update_id}
        if nodegroup:
            params["nodegroupName"] = nodegroup
        if addon:
            params["addonName"] = addon
        with self._translated(f"describe update {update_id}"):
            return _update(self._eks.describe_update(**params))

    # ------------------------------------------------------------------ node groups

    def list_nodegroups(self) -> list[str]:
        """The names of the cluster's managed node groups."""
        return self._paginated("list_nodegroups", "nodegroups", "list node groups", clusterName=self.name)

    def describe_nodegroup(self, nodegroup: str) -> EksNodegroup:
        with self._translated(f"describe node group {nodegroup}"):
            found = self._eks.describe_nodegroup(clusterName=self.name, nodegroupName=nodegroup)["nodegroup"]
        return EksNodegroup(
            name=found["nodegroupName"],
            version=found.get("version", ""),
            release_version=found.get("releaseVersion", ""),
            status=found.get("status", ""),
            ami_type=found.get("amiType", ""),
        )

    def update_nodegroup_version(self, nodegroup: str, version: str, *, token: str, force: bool) -> EksUpdate:
        """Roll a node group to minor ``version``; ``force`` replaces nodes whose pods a budget will not let go."""
        with self._translated(f"update node group {nodegroup} to {version}"):
            response = self._eks.update_nodegroup_version(
                clusterName=self.name, nodegroupName=nodegroup, version=version, force=force, clientRequestToken=token
            )
        return _update(response)

    # ------------------------------------------------------------------ add-ons

    def list_addons(self) -> list[str]:
        """The names of the cluster's installed EKS add-ons."""
        return self._paginated("list_addons", "addons", "list add-ons", clusterName=self.name)

    def describe_addon(self, addon: str) -> EksAddon:
        with self._translated(f"describe add-on {addon}"):
            found = self._eks.describe_addon(clusterName=self.name, addonName=addon)["addon"]
        return EksAddon(name=found["addonName"], version=found.get("addonVersion", ""), status=found.get("status", ""))

    def describe_addon_versions(self, addon: str, kubernetes_version: str) -> list[AddonVersion]:
        """The versions of ``addon`` published for a cluster minor, as EKS orders them (newest first)."""
        pages = self._paginated(
            "describe_addon_versions",
            "addons",
            f"describe add-on versions of {addon}",
            addonName=addon,
            kubernetesVersion=kubernetes_version,
        )
        return [_addon_version(v) for info in pages for v in info.get("addonVersions", [])]

    def update_addon(self, addon: str, version: str, *, token: str) -> EksUpdate:
        """Move an add-on to ``version``, keeping configuration a user changed (``resolveConflicts: PRESERVE``)."""
        with self._translated(f"update add-on {addon} to {version}"):
            response = self._eks.update_addon(
                clusterName=self.name,
                addonName=addon,
                addonVersion=version,
                resolveConflicts="PRESERVE",
                clientRequestToken=token,
            )
        return _update(response)

    # ------------------------------------------------------------------ insights

    def list_insights(self, kubernetes_version: str) -> list[InsightSummary]:
        """The upgrade-readiness insights EKS keeps for a target minor."""
        found = self._paginated(
            "list_insights",
            "insights",
            "list upgrade insights",
            clusterName=self.name,
            filter={"categories": [UPGRADE_READINESS], "kubernetesVersions": [kubernetes_version]},
        )
        return [_summary(item) for item in found]

    def describe_insight(self, insight_id: str) -> Insight:
        with self._translated(f"describe insight {insight_id}"):
            found = self._eks.describe_insight(clusterName=self.name, id=insight_id)["insight"]
        specific = found.get("categorySpecificSummary") or {}
        return Insight(
            summary=_summary(found),
            recommendation=found.get("recommendation", ""),
            resources=tuple(
                r.get("kubernetesResourceUri") or r.get("arn", "")
                for r in found.get("resources", [])
                if r.get("kubernetesResourceUri") or r.get("arn")
            ),
            deprecations=tuple(_deprecation(d) for d in specific.get("deprecationDetails", [])),
        )

    def start_insights_refresh(self) -> str:
        """Ask EKS to re-evaluate the insights now rather than within the day; returns the refresh status."""
        with self._translated("start insights refresh"):
            return str(self._eks.start_insights_refresh(clusterName=self.name).get("status", ""))

    # ------------------------------------------------------------------ errors

    def _paginated(self, operation: str, key: str, action: str, **params: Any) -> list[Any]:
        with self._translated(action):
            pages = self._eks.get_paginator(operation).paginate(**params)
            return [item for page in pages for item in page.get(key, [])]

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """botocore's exceptions inside the block become :class:`EksError` naming the cluster and ``action``."""
        try:
            yield
        except botocore.exceptions.ClientError as exc:
            raise self._error(exc, action) from exc
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise EksUnavailable(f"{action}: unreachable ({type(exc).__name__})", system=self.system) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise EksRefused(f"{action}: {exc}", system=self.system, code=type(exc).__name__) from exc

    def _error(self, exc: botocore.exceptions.ClientError, action: str) -> EksError:
        error: Mapping[str, Any] = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = _first_line(str(error.get("Message", "")))
        kind: Callable[..., EksError]
        if code in _NOT_FOUND:
            kind = EksNotFound
        elif code == "404" or (not code and status == 404):
            kind, message = EksNotImplemented, "the EKS endpoint does not implement this operation (HTTP 404)"
        elif code in _UNAVAILABLE or code in _BUSY or (status is not None and (status >= 500 or status == 429)):
            kind = EksUnavailable
        else:
            kind = EksRefused
        text = f"{action}: {code}: {message}" if message else f"{action}: {code or status}"
        return kind(text, system=self.system, code=code, status=status)


def _first_line(message: str) -> str:
    """EKS messages are one line; an HTML error page (a proxy, moto) is reduced to nothing."""
    text = message.strip()
    if not text or text.startswith("<"):
        return ""
    return text.splitlines()[0]


def _update(response: Mapping[str, Any]) -> EksUpdate:
    update = response["update"]
    return EksUpdate(
        id=update["id"],
        status=update.get("status", ""),
        type=update.get("type", ""),
        params=tuple((p.get("type", ""), p.get("value", "")) for p in update.get("params", [])),
        errors=tuple(
            UpdateError(e.get("errorCode", ""), e.get("errorMessage", ""), tuple(e.get("resourceIds", [])))
            for e in update.get("errors", [])
        ),
    )


def _addon_version(found: Mapping[str, Any]) -> AddonVersion:
    compatible = found.get("compatibilities", [])
    return AddonVersion(
        version=found["addonVersion"],
        cluster_versions=tuple(c["clusterVersion"] for c in compatible if c.get("clusterVersion")),
        default_for=tuple(c["clusterVersion"] for c in compatible if c.get("defaultVersion")),
    )


def _summary(found: Mapping[str, Any]) -> InsightSummary:
    status = found.get("insightStatus") or {}
    return InsightSummary(
        id=found["id"],
        name=found.get("name", ""),
        status=status.get("status", "UNKNOWN"),
        reason=status.get("reason", ""),
        description=found.get("description", ""),
        kubernetes_version=found.get("kubernetesVersion", ""),
        last_refresh=found.get("lastRefreshTime"),
    )


def _deprecation(found: Mapping[str, Any]) -> Deprecation:
    return Deprecation(
        usage=found.get("usage", ""),
        replaced_with=found.get("replacedWith", ""),
        stop_serving_version=found.get("stopServingVersion", ""),
        clients=tuple(
            ClientStat(s.get("userAgent", ""), int(s.get("numberOfRequestsLast30Days", 0)), s.get("lastRequestTime"))
            for s in found.get("clientStats", [])
        ),
    )
