"""``limit``/``continue`` pagination of lists.

Objects are listed in key order (namespace, then name) as etcd returns them; a
page of ``limit`` items ends with a continue token shaped like the apiserver's
(base64 of ``{"v": "meta.k8s.io/v1", "rv": <list rv>, "start": "<ns>/<name>\\x00"}``).
The next page starts after that key in the *current* state (the apiserver reads
a consistent snapshot at ``rv`` instead); every page reports the first page's
resourceVersion, and a token older than the compacted history is 410 Expired,
as it is once etcd has compacted that revision.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from drd.sandbox.kube import errors

Obj = dict[str, Any]
ObjectKey = tuple[str, str]
"""``(namespace or "", name)``."""

EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: the items, the list's resourceVersion, and the token for the next page."""

    items: list[Obj]
    resource_version: int
    continue_token: str | None = None
    remaining: int | None = None
    """``remainingItemCount``: set only when a page is cut and no selector filtered the list."""


def encode(start: ObjectKey, resource_version: int) -> str:
    """The continue token for a page that ended at ``start``."""
    raw = {"v": "meta.k8s.io/v1", "rv": resource_version, "start": "/".join(start) + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, *, compacted: int) -> tuple[ObjectKey, int]:
    """``(last key returned, list resourceVersion)``; 400 for garbage, 410 when compacted away."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = str(raw["start"]).rstrip("\x00").partition("/")
        start, resource_version = (namespace, name), int(raw["rv"])
    except (ValueError, KeyError, TypeError, binascii.Error) as e:
        raise errors.BadRequest(f"continue key is not valid: {e}") from e
    if resource_version < compacted:
        raise errors.Gone(EXPIRED_CONTINUE)
    return start, resource_version
