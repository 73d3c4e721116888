"""Deprecated API versions the emulator still serves, as a real API server of its version does.

A real 1.31 API server serves ``flowcontrol.apiserver.k8s.io/v1beta3``
(deprecated in 1.29, gone in 1.32) next to ``v1``, and clients that were
never updated keep calling it. For each such request it answers with a
``Warning: 299`` header and sets ``apiserver_requested_deprecated_apis`` to 1
(see :mod:`drd.sandbox.kube.metrics`), which is how an upgrade's pre-flight
finds out, before the upgrade, that something still uses an API the target
version removes. Once the server's version reaches ``removed``, the version
is no longer served (404), as after a real upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass

WARN_CODE = 299
"""RFC 7234's "miscellaneous persistent warning", which the API server uses for deprecations."""


@dataclass(frozen=True, slots=True)
class Deprecation:
    """When a served API version was deprecated, when it stops being served, and what replaces it."""

    deprecated: tuple[int, int]
    """Major and minor of the release that deprecated it (``(1, 29)``)."""
    removed: tuple[int, int]
    """Major and minor of the first release that no longer serves it (``(1, 32)``)."""
    replacement: str
    """The ``group/version`` clients should move to (``flowcontrol.apiserver.k8s.io/v1``)."""

    @property
    def removed_release(self) -> str:
        """``1.32``: the ``removed_release`` label of ``apiserver_requested_deprecated_apis``."""
        return f"{self.removed[0]}.{self.removed[1]}"

    def message(self, api_version: str, kind: str) -> str:
        """The API server's text: ``<gv> <Kind> is deprecated in v1.29+, unavailable in v1.32+; use <gv> <Kind>``."""
        deprecated = f"v{self.deprecated[0]}.{self.deprecated[1]}+"
        removed = f"v{self.removed[0]}.{self.removed[1]}+"
        return (
            f"{api_version} {kind} is deprecated in {deprecated}, unavailable in {removed}; "
            f"use {self.replacement} {kind}"
        )

    def warning(self, api_version: str, kind: str) -> str:
        """The ``Warning`` header value: ``299 - "<message>"``."""
        return f'{WARN_CODE} - "{self.message(api_version, kind)}"'

    def removed_by(self, git_version: str) -> bool:
        """Whether a server reporting ``git_version`` (``v1.32.0``) no longer serves this version."""
        try:
            major, minor = (int(part) for part in git_version.lstrip("v").split(".")[:2])
        except ValueError:
            return False
        return (major, minor) >= self.removed


FLOWCONTROL_V1BETA3 = Deprecation(deprecated=(1, 29), removed=(1, 32), replacement="flowcontrol.apiserver.k8s.io/v1")
"""API Priority and Fairness' v1beta3: deprecated in 1.29 when v1 went GA, no longer served from 1.32."""
