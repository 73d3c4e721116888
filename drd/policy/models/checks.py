"""The verification checks of a drill: typed, told apart by ``type``.

Each check proves one thing about the restored application and has an
optional ``name`` (how evidence and reports call it) and a ``timeout`` with a
default that suits its type. Namespaces in checks are *source* namespaces, as
in the backup; drd maps them to the drill's namespaces. A check that targets
one namespace may omit it when the backup restores exactly one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from drd.policy.durations import PositiveDuration
from drd.policy.frozen import FrozenMap
from drd.policy.models.base import Model, raise_violations
from drd.policy.names import EnvMap, Matches, Name, ObjectName, ResourceName, ServiceName
from drd.policy.selectors import LabelSelector

Port = Annotated[int, Field(ge=1, le=65535)]
Command = Annotated[tuple[Annotated[str, Field(max_length=65536)], ...], Field(min_length=1, max_length=256)]
HttpPath = Annotated[str, Matches(r"^/\S*$", 'a path starting with "/" (no spaces)', 2048, ("/healthz",))]
ApiVersion = Annotated[
    str,
    Matches(
        r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+((alpha|beta)[0-9]+)?$",
        '"v1" or "group/version" such as "apps/v1"',
        253,
        ("v1", "apps/v1"),
    ),
]
KindName = Annotated[str, Matches(r"^[A-Z][A-Za-z0-9]*$", 'a kind such as "ConfigMap"', 63, ("ConfigMap",))]
Image = Annotated[
    str,
    Matches(
        r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$",
        'an image reference such as "postgres:16.4" or "registry.example.com/tools/check@sha256:<digest>"',
        512,
        ("postgres:16.4",),
    ),
]


class CheckBase(Model, ABC):
    """What every check has."""

    name: Name | None = None
    """How evidence and reports call this check; defaults to a description of it."""
    namespace: Name | None = None
    """The source namespace the check works in; may be omitted when the backup restores one namespace.

    Omitted, ``objectsPresent`` and ``workloadsReady`` cover every restored
    namespace, and ``resourceExists`` also finds cluster-scoped objects.
    """

    @property
    def label(self) -> str:
        """``name``, or a description such as ``http storefront:80/healthz``."""
        return self.name or self.describe()

    @abstractmethod
    def describe(self) -> str:
        """A short description of what the check does."""


class ObjectsPresentCheck(CheckBase):
    """Every object the restore reported as restored exists in the drill namespaces."""

    type: Literal["objectsPresent"]
    resources: tuple[ResourceName, ...] = ()
    """Only these resources (e.g. ``persistentvolumeclaims``); empty means all."""
    timeout: PositiveDuration = timedelta(minutes=2)

    def describe(self) -> str:
        return "objects present" + (f" ({', '.join(self.resources)})" if self.resources else "")


class WorkloadsReadyCheck(CheckBase):
    """Deployments, StatefulSets and DaemonSets reach their desired ready replicas."""

    type: Literal["workloadsReady"]
    selector: LabelSelector | None = None
    """Only workloads with these labels; empty means all."""
    timeout: PositiveDuration = timedelta(minutes=10)

    def describe(self) -> str:
        selected = f" ({self.selector.to_selector_string()})" if self.selector and not self.selector.is_empty else ""
        return "workloads ready" + selected


class HttpCheck(CheckBase):
    """An HTTP request to a restored Service answers with the expected status."""

    type: Literal["http"]
    service: ServiceName
    """The Service to call."""
    port: Port
    """The Service port."""
    path: HttpPath = "/"
    """Request path."""
    scheme: Literal["http", "https"] = "http"
    """``http`` or ``https`` (certificates are not verified: restored services answer under drill names)."""
    expect_status: Annotated[int, Field(ge=100, le=599)] = 200
    """The status code that passes."""
    body_contains: Annotated[str, Field(max_length=4096)] | None = None
    """Text the response body must contain."""
    timeout: PositiveDuration = timedelta(minutes=1)

    def describe(self) -> str:
        return f"http {self.service}:{self.port}{self.path}"


class TcpCheck(CheckBase):
    """A TCP connection to a restored Service is accepted."""

    type: Literal["tcp"]
    service: ServiceName
    """The Service to connect to."""
    port: Port
    """The Service port."""
    timeout: PositiveDuration = timedelta(minutes=1)

    def describe(self) -> str:
        return f"tcp {self.service}:{self.port}"


class ExecCheck(CheckBase):
    """A command run in a restored pod exits with the expected code."""

    type: Literal["exec"]
    selector: LabelSelector
    """Labels of the pod to run in (the first ready one); must not be empty."""
    container: Name | None = None
    """The container; default is the pod's first container."""
    command: Command
    """The command and its arguments (no shell unless you call one)."""
    expect_exit_code: Annotated[int, Field(ge=0, le=255)] = 0
    """The exit code that passes."""
    timeout: PositiveDuration = timedelta(minutes=2)

    @model_validator(mode="after")
    def _selector_not_empty(self) -> ExecCheck:
        if self.selector.is_empty:
            raise_violations(self, [(("selector",), "must select pods by label; an empty selector matches all", {})])
        return self

    def describe(self) -> str:
        return f"exec {self.command[0]} in {self.selector.to_selector_string()}"


class ObjectRef(Model):
    """An object by API version, kind and name."""

    api_version: ApiVersion
    """``v1`` or ``group/version``."""
    kind: KindName
    """The object's kind, e.g. ``ConfigMap``."""
    name: ObjectName
    """The object's name."""


class ResourceExistsCheck(CheckBase):
    """A named object exists after the restore."""

    type: Literal["resourceExists"]
    object: ObjectRef
    """The object that must exist."""
    timeout: PositiveDuration = timedelta(minutes=1)

    def describe(self) -> str:
        return f"{self.object.kind} {self.object.name} exists"


class JobCheck(CheckBase):
    """A Job run in the drill namespace succeeds: the place for data checks against restored databases."""

    type: Literal["job"]
    image: Image
    """Container image; pin a tag or digest."""
    command: Command
    """The command and its arguments."""
    env: EnvMap = Field(default_factory=FrozenMap)
    """Plain environment variables; never secrets (use ``envFromSecrets``)."""
    env_from_secrets: tuple[Name, ...] = ()
    """Restored Secrets whose keys become environment variables, so credentials stay out of policy files."""
    timeout: PositiveDuration = timedelta(minutes=10)

    @property
    def pinned(self) -> bool:
        """The image names a digest or a tag other than ``latest``."""
        last = self.image.rsplit("/", 1)[-1]
        return "@" in self.image or (":" in last and not last.endswith(":latest"))

    def describe(self) -> str:
        return f"job {self.image}"


Check = Annotated[
    ObjectsPresentCheck | WorkloadsReadyCheck | HttpCheck | TcpCheck | ExecCheck | ResourceExistsCheck | JobCheck,
    Field(discriminator="type"),
]
"""One verification check; ``type`` says which."""
