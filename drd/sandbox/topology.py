"""The sandbox's shape: which clusters, regions, buckets and storage locations exist.

Velero's DR recipe (velero.md §2.3): each writer cluster has its own prefix in
its region's bucket; the primary region's bucket replicates to the DR region;
the DR cluster reads the replicated primary prefix through a **ReadOnly** BSL
named after the primary, and writes its own backups to its own prefix. The
canary, in the primary's region, reads the primary's prefix of the primary
bucket the same way (a ReadOnly ``primary-east`` location), so that a drill
can restore a primary backup into it: an upgrade's canary proof.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClusterSpec:
    """One simulated cluster."""

    name: str
    region: str
    role: str
    kubernetes_version: str = "v1.31.4"
    nodes: int = 3
    provider: str = "sandbox"
    """The inventory's ``spec.provider``: the emulated platform, upgraded through the emulator's endpoint."""


@dataclass(frozen=True)
class LocationSpec:
    """One BackupStorageLocation in one cluster."""

    name: str
    bucket: str
    region: str
    prefix: str
    read_only: bool = False
    default: bool = False


@dataclass(frozen=True)
class Topology:
    """Clusters, buckets, replication and storage locations of a sandbox."""

    clusters: tuple[ClusterSpec, ...]
    buckets: dict[str, str]
    """bucket name → region."""
    replication: tuple[tuple[str, str], ...]
    """(source bucket, destination bucket) pairs."""
    locations: dict[str, tuple[LocationSpec, ...]] = field(default_factory=dict)
    """cluster name → its BSLs."""

    def cluster(self, name: str) -> ClusterSpec:
        for spec in self.clusters:
            if spec.name == name:
                return spec
        raise KeyError(name)


PRIMARY_BUCKET = "drd-backups-us-east-1"
DR_BUCKET = "drd-backups-us-west-2"


def default_topology(*, canary: bool = True) -> Topology:
    """Primary in us-east-1, DR in us-west-2 and (unless ``canary=False``) a canary in us-east-1 (design.md)."""
    clusters = [ClusterSpec("primary-east", "us-east-1", "primary"), ClusterSpec("dr-west", "us-west-2", "dr")]
    if canary:
        clusters.append(ClusterSpec("canary-east", "us-east-1", "canary"))
    return Topology(
        clusters=tuple(clusters),
        buckets={PRIMARY_BUCKET: "us-east-1", DR_BUCKET: "us-west-2"},
        replication=((PRIMARY_BUCKET, DR_BUCKET),),
        locations={
            "primary-east": (LocationSpec("default", PRIMARY_BUCKET, "us-east-1", "primary-east", default=True),),
            "canary-east": (
                LocationSpec("default", PRIMARY_BUCKET, "us-east-1", "canary-east", default=True),
                LocationSpec("primary-east", PRIMARY_BUCKET, "us-east-1", "primary-east", read_only=True),
            ),
            "dr-west": (
                LocationSpec("default", DR_BUCKET, "us-west-2", "dr-west", default=True),
                LocationSpec("primary-east", DR_BUCKET, "us-west-2", "primary-east", read_only=True),
            ),
        },
    )
