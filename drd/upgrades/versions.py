"""Kubernetes versions as servers and kubelets report them (``v1.31.4``, ``v1.31.4-eks-a5ec690``, ``v1.30.2+k3s1``).

Only major, minor and patch matter to the skew rules; a provider's build
suffix is kept for display and ignored in comparisons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?([-+][0-9A-Za-z.+-]*)?$")


@dataclass(frozen=True, order=True)
class Version:
    """A Kubernetes release, ordered by (major, minor, patch)."""

    major: int
    minor: int
    patch: int = 0
    suffix: str = field(default="", compare=False)
    """A provider build suffix such as ``-eks-a5ec690``; not compared."""

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}{self.suffix}"

    @property
    def minor_name(self) -> str:
        """``1.31``."""
        return f"{self.major}.{self.minor}"

    def minors_above(self, other: Version) -> int:
        """How many minors this is above ``other`` (negative when below); majors count as 100 minors."""
        return (self.major - other.major) * 100 + (self.minor - other.minor)


def parse(text: str) -> Version:
    """A version from ``/version``'s gitVersion or a node's kubeletVersion; ValueError naming the accepted form."""
    match = _VERSION.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'"{text}" is not a Kubernetes version such as v1.31.4 or v1.31.4-eks-a5ec690')
    major, minor, patch, suffix = match.groups()
    return Version(int(major), int(minor), int(patch or 0), suffix or "")


def max_kubelet_skew(control_plane: Version) -> int:
    """How many minors a kubelet may be older than a control plane at ``control_plane``: 3 since 1.28, 2 before."""
    return 3 if (control_plane.major, control_plane.minor) >= (1, 28) else 2
