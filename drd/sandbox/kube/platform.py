"""The sandbox's platform endpoint: the stand-in for a managed platform's control-plane API.

A managed cluster's Kubernetes version is changed through the platform (EKS
``UpdateClusterVersion``, GKE ``clusters.update``), not through the Kubernetes
API. The emulator serves that one capability over HTTP so that any process
(``drd upgrade run`` in a CLI, a test) can drive an upgrade of a ``drd sandbox
up`` started elsewhere:

* ``GET /sandbox.drd.dev/v1/controlplane`` → ``{"apiVersion": "sandbox.drd.dev/v1",
  "kind": "ControlPlane", "gitVersion": "v1.31.4"}``;
* ``PUT`` the same path with ``{"gitVersion": "v1.32.0"}`` → the new document;
  ``/version`` reports it at once (the upgrade completes synchronously).

The path's first segment is a domain name, which no Kubernetes API path starts
with (``/api``, ``/apis``, ``/version``, ``/healthz``, ``/openapi``, ``/metrics``…).
The endpoint checks only the version's form (``vMAJOR.MINOR.PATCH``): the
version-skew rules (no skipped minor, no downgrade) are every upgrade
provider's to enforce, and tests may need to put a cluster anywhere.
"""

from __future__ import annotations

import json
import re
from typing import Any

from drd.sandbox.kube import errors

PREFIX = "/sandbox.drd.dev/"
CONTROL_PLANE = "/sandbox.drd.dev/v1/controlplane"
API_VERSION = "sandbox.drd.dev/v1"
_VERSION = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_KIND = errors.GroupKind("sandbox.drd.dev", "ControlPlane")


def addresses(path: str) -> bool:
    """Whether ``path`` is the platform's rather than the Kubernetes API's."""
    return path.startswith(PREFIX)


def control_plane(method: str, path: str, body: bytes, current: str) -> tuple[dict[str, Any], str]:
    """Serve one platform request: the response document and the version the API server reports from now on."""
    if path.rstrip("/") != CONTROL_PLANE:
        raise errors.RouteNotFound()
    if method.upper() == "GET":
        return _document(current), current
    if method.upper() != "PUT":
        raise errors.MethodNotAllowed()
    try:
        request = json.loads(body or b"null")
    except ValueError as e:
        raise errors.BadRequest(f"error decoding request body: {e}") from e
    version = request.get("gitVersion") if isinstance(request, dict) else None
    if not isinstance(version, str) or not _VERSION.match(version):
        problem = errors.invalid_value("gitVersion", version, "must be a Kubernetes version such as v1.32.0")
        raise errors.Invalid(_KIND, "controlplane", [problem])
    return _document(version), version


def _document(version: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "ControlPlane", "gitVersion": version}
