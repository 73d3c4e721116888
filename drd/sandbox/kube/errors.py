"""The emulator's typed API errors and the Kubernetes ``Status`` bodies they become.

The in-process store raises these; the HTTP layer turns each into the
``{"kind": "Status", ...}`` body and HTTP code a real kube-apiserver sends, so
that an in-process caller and an HTTP client see the same failure. The
constructors mirror ``k8s.io/apimachinery/pkg/api/errors`` (``NewNotFound``,
``NewConflict``, ``NewInvalid``...) and word their messages the same way,
because client code (and drd's adapters) match on ``reason``, ``code`` and
sometimes on the message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from drd.errors import DrdError


@dataclass(frozen=True, slots=True)
class GroupResource:
    """A resource qualified by its API group, printed like apimachinery's ``GroupResource``."""

    group: str
    resource: str

    def __str__(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@dataclass(frozen=True, slots=True)
class GroupKind:
    """A kind qualified by its API group, printed like apimachinery's ``GroupKind``."""

    group: str
    kind: str

    def __str__(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field validation failure (apimachinery's ``field.Error``).

    ``type`` is the Status cause reason (``FieldValueInvalid``, ``FieldValueRequired``,
    ``FieldValueForbidden``...), ``field`` the dotted path, ``detail`` the explanation and
    ``value`` the offending value (``None`` when the error type prints no value).
    """

    type: str
    field: str
    detail: str = ""
    value: Any = None

    _BODIES: ClassVar[dict[str, str]] = {
        "FieldValueInvalid": "Invalid value",
        "FieldValueRequired": "Required value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueTooLong": "Too long",
    }

    def body(self) -> str:
        """The error text without the field path (apimachinery's ``ErrorBody``)."""
        text = self._BODIES.get(self.type, self.type)
        if self.type in {"FieldValueInvalid", "FieldValueDuplicate", "FieldValueNotSupported"}:
            text = f"{text}: {_go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        """The ``details.causes[]`` entry of a Status."""
        return {"reason": self.type, "message": self.body(), "field": self.field}


def invalid_value(field: str, value: Any, detail: str) -> FieldError:
    """``field.Invalid``."""
    return FieldError("FieldValueInvalid", field, detail, value)


def required_value(field: str, detail: str = "") -> FieldError:
    """``field.Required``."""
    return FieldError("FieldValueRequired", field, detail)


def forbidden_value(field: str, detail: str) -> FieldError:
    """``field.Forbidden``."""
    return FieldError("FieldValueForbidden", field, detail)


def _go_value(value: Any) -> str:
    """Print a value the way Go's ``%#v``-ish field errors do: strings quoted, integers in hex for 0."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return hex(value) if value == 0 else str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class KubeApiError(DrdError):
    """An error the emulated API server returns; ``status()`` is its wire form."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        """The ``Status`` object a kube-apiserver sends for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = {k: v for k, v in self.details.items() if v not in ("", None, [])}
        body["code"] = self.code
        return body


def _details(gr: GroupResource | GroupKind | None, name: str, **extra: Any) -> dict[str, Any]:
    if gr is None:
        return {"name": name, **extra}
    kind = gr.resource if isinstance(gr, GroupResource) else gr.kind
    return {"name": name, "group": gr.group, "kind": kind, **extra}


class BadRequest(KubeApiError):
    """400: the request itself is malformed."""

    code = 400
    reason = "BadRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message, details=None)


class Forbidden(KubeApiError):
    """403 (``NewForbidden``): e.g. creating content in a terminating namespace."""

    code = 403
    reason = "Forbidden"

    def __init__(self, gr: GroupResource, name: str, why: str, *, causes: list[dict[str, str]] | None = None) -> None:
        what = f'{gr} "{name}"' if name else str(gr)
        super().__init__(f"{what} is forbidden: {why}", details=_details(gr, name, causes=causes or []))


class NotFound(KubeApiError):
    """404 (``NewNotFound``): ``deployments.apps "web" not found``."""

    code = 404
    reason = "NotFound"

    def __init__(self, gr: GroupResource, name: str) -> None:
        super().__init__(f'{gr} "{name}" not found', details=_details(gr, name))


class RouteNotFound(KubeApiError):
    """404 for a path no API serves (go-restful's generic answer)."""

    code = 404
    reason = "NotFound"

    def __init__(self) -> None:
        super().__init__("the server could not find the requested resource", details={})


class MethodNotAllowed(KubeApiError):
    """405: the verb is not served on this path."""

    code = 405
    reason = "MethodNotAllowed"

    def __init__(self, message: str = "the server does not allow this method on the requested resource") -> None:
        super().__init__(message, details={})


class NotAcceptable(KubeApiError):
    """406: none of the media types in ``Accept`` can be produced."""

    code = 406
    reason = "NotAcceptable"

    def __init__(self, accept: str) -> None:
        super().__init__(
            f"only the following media types are accepted: application/json, not {accept}",
            details=None,
        )


class AlreadyExists(KubeApiError):
    """409 (``NewAlreadyExists``): ``configmaps "c" already exists``."""

    code = 409
    reason = "AlreadyExists"

    def __init__(self, gr: GroupResource, name: str) -> None:
        super().__init__(f'{gr} "{name}" already exists', details=_details(gr, name))


class Conflict(KubeApiError):
    """409 (``NewConflict``): optimistic-concurrency failure or a failed precondition."""

    code = 409
    reason = "Conflict"

    STALE: ClassVar[str] = "the object has been modified; please apply your changes to the latest version and try again"

    def __init__(self, gr: GroupResource, name: str, why: str = STALE) -> None:
        super().__init__(f'Operation cannot be fulfilled on {gr} "{name}": {why}', details=_details(gr, name))


class Gone(KubeApiError):
    """410 with reason ``Expired`` (``NewResourceExpired``): a watch or continue token is too old."""

    code = 410
    reason = "Expired"

    def __init__(self, message: str) -> None:
        super().__init__(message, details=None)


class UnsupportedMediaType(KubeApiError):
    """415: the request body's Content-Type is not accepted here."""

    code = 415
    reason = "UnsupportedMediaType"

    def __init__(self, message: str) -> None:
        super().__init__(message, details={})


class Invalid(KubeApiError):
    """422 (``NewInvalid``): ``ConfigMap "Bad" is invalid: metadata.name: Invalid value: ...``."""

    code = 422
    reason = "Invalid"

    def __init__(self, gk: GroupKind, name: str, errors: list[FieldError]) -> None:
        self.field_errors = list(errors)
        aggregate = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
        super().__init__(
            f'{gk} "{name}" is invalid: {aggregate}',
            details=_details(gk, name, causes=[e.cause() for e in errors]),
        )


class GenericInvalid(KubeApiError):
    """422 with the generic wording (``NewGenericServerResponse``), e.g. a failed JSON-patch ``test``."""

    code = 422
    reason = "Invalid"

    def __init__(self, message: str = "the server rejected our request due to an error in our request") -> None:
        super().__init__(message, details={})


class TooManyRequests(KubeApiError):
    """429 with ``Retry-After``: what API Priority and Fairness answers when it sheds load."""

    code = 429
    reason = "TooManyRequests"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(
            "Too many requests, please try again later.",
            details={"retryAfterSeconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class InternalError(KubeApiError):
    """500 (``NewInternalError``)."""

    code = 500
    reason = "InternalError"

    def __init__(self, why: str) -> None:
        super().__init__(f"Internal error occurred: {why}", details={"causes": [{"message": why}]})


class ServiceUnavailable(KubeApiError):
    """503 (``NewServiceUnavailable``), with ``Retry-After``."""

    code = 503
    reason = "ServiceUnavailable"

    def __init__(self, why: str = "the server is currently unable to handle the request", retry_after: int = 1) -> None:
        super().__init__(why, details={"retryAfterSeconds": retry_after}, headers={"Retry-After": str(retry_after)})


class Timeout(KubeApiError):
    """504 (``NewTimeoutError``), e.g. a watch from a resource version the server has not reached."""

    code = 504
    reason = "Timeout"

    def __init__(self, message: str, *, causes: list[dict[str, str]] | None = None, retry_after: int = 1) -> None:
        super().__init__(message, details={"causes": causes or [], "retryAfterSeconds": retry_after})


def for_status_code(code: int, *, retry_after: int = 1) -> KubeApiError:
    """A representative error for an injected HTTP status (fault injection)."""
    if code == 429:
        return TooManyRequests(retry_after)
    if code == 503:
        return ServiceUnavailable(retry_after=retry_after)
    if code == 500:
        return InternalError("injected fault")
    error = KubeApiError(f"injected fault (HTTP {code})", details={})
    error.code = code
    error.reason = "InternalError" if code >= 500 else "BadRequest"
    return error
