"""A whole simulated environment: clusters, Velero in each, S3 with replication, OpenBao.

:class:`Sandbox` is what ``drd sandbox up`` runs and what tests build on. Every
component is reached over real HTTP: Kubernetes API emulators on loopback
ports, moto's S3 server, a real OpenBao dev server. Velero simulators and
workload simulators are controllers talking to their cluster's API like the
real ones.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from drd.clients.errors import AccessKeyLimitExceeded, KubeAlreadyExists
from drd.clients.iam import NewAccessKey
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import NAMESPACES, NODES, Resource
from drd.clients.objectstore import S3Bucket
from drd.sandbox.kube import crds
from drd.sandbox.kube.emulator import KubeEmulator
from drd.sandbox.postgres import PostgresServer, start_shop_database
from drd.sandbox.s3 import VELERO_IAM_USER, AwsAuthentication, BucketReplicator, MotoS3
from drd.sandbox.sample_app import catalog_manifests, shop_manifests
from drd.sandbox.topology import ClusterSpec, Topology, default_topology
from drd.sandbox.vault import OpenBaoDevServer, configure_shop_database
from drd.sandbox.velero.config import VeleroFaults, VeleroTimings
from drd.sandbox.velero.controller import VeleroSimulator
from drd.sandbox.velero.install import install_velero
from drd.sandbox.velero.storage import BucketResolver
from drd.sandbox.workloads import WorkloadSimulator, WorkloadTimings

log = structlog.get_logger(__name__)

SIMULATOR_USER_AGENT = "sandbox-controllers"
"""User-Agent of in-cluster simulators, so that API faults can target drd's traffic only."""


@dataclass
class SandboxOptions:
    """What to start and how fast it behaves."""

    topology: Topology = field(default_factory=default_topology)
    velero_timings: VeleroTimings = field(default_factory=VeleroTimings.interactive)
    workload_timings: WorkloadTimings = field(default_factory=WorkloadTimings)
    replication_lag_seconds: float = 1.0
    replication_poll_seconds: float = 0.2
    seed_applications: bool = True
    vault: bool = True
    vault_database: bool = True
    """With Vault: a private PostgreSQL (password logins) and Vault's database engine managing ``shop_app``."""

    @classmethod
    def fast(cls) -> SandboxOptions:
        """For tests: everything converges in well under a second."""
        return cls(
            velero_timings=VeleroTimings.fast(),
            replication_lag_seconds=0.0,
            workload_timings=WorkloadTimings(ready_delay_seconds=0.05, bind_delay_seconds=0.05, job_seconds=0.05),
            replication_poll_seconds=0.05,
        )


@dataclass
class SandboxCluster:
    """One running simulated cluster."""

    spec: ClusterSpec
    emulator: KubeEmulator
    kube: KubeClient
    velero: VeleroSimulator
    workloads: WorkloadSimulator

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def url(self) -> str:
        return self.emulator.url


class Sandbox:
    """Start with :meth:`start` (or as a context manager); everything stops with :meth:`stop`."""

    def __init__(self, options: SandboxOptions | None = None, *, moto: MotoS3 | None = None) -> None:
        self.options = options or SandboxOptions()
        self._own_moto = moto is None
        self.moto = moto or MotoS3()
        self.clusters: dict[str, SandboxCluster] = {}
        self.buckets: dict[str, S3Bucket] = {}
        self.replicators: list[BucketReplicator] = []
        self.vault: OpenBaoDevServer | None = None
        self.postgres: PostgresServer | None = None
        self.velero_faults = VeleroFaults()
        self.velero_iam_user = VELERO_IAM_USER
        """The IAM user whose access key every cluster's Velero uses (in ``velero/cloud-credentials``)."""
        self.velero_access_key: NewAccessKey | None = None
        """The key installed at start (a rotation replaces it in the clusters and in IAM)."""
        self._stack = contextlib.ExitStack()

    def start(self) -> Sandbox:
        """Bring everything up; on any failure, tear down what started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every component (idempotent)."""
        self._stack.close()
        self.clusters.clear()
        self.replicators.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def cluster(self, name: str) -> SandboxCluster:
        """A running cluster by name."""
        return self.clusters[name]

    def kubeconfig(self) -> dict[str, Any]:
        """One kubeconfig with a context per cluster, named after the cluster."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": c.name, "cluster": {"server": c.url}} for c in self.clusters.values()],
            "users": [{"name": "sandbox-admin", "user": {"token": "sandbox"}}],
            "contexts": [
                {"name": c.name, "context": {"cluster": c.name, "user": "sandbox-admin", "namespace": "default"}}
                for c in self.clusters.values()
            ],
            "current-context": next(iter(self.clusters), ""),
        }

    def replicate_now(self) -> None:
        """One replication pass of every bucket pair (the lag still applies)."""
        for replicator in self.replicators:
            replicator.replicate_once()

    # Fault injection (design.md: API errors, latency, Velero failures, a bucket that disappears, lag, sealed Vault).
    # API faults and outages are per cluster: ``cluster(name).emulator.set_faults(...)`` / ``go_down()`` /
    # ``come_up()``; Velero outcomes are ``velero_faults`` (shared by every cluster's simulated Velero).

    def remove_bucket(self, name: str) -> None:
        """Make a bucket vanish, at once as far as Velero can tell.

        S3 deletes a bucket only once it is empty; a Velero backup sync that ran in between would
        see an *empty* bucket and delete every synced Backup, which a vanished bucket never causes.
        Velero's controllers are held while the bucket is emptied and deleted (after letting a pass
        already under way finish).
        """
        held = self.velero_faults.paused
        self.velero_faults.paused = True
        try:
            time.sleep(0.2)  # two controller ticks: a periodic pass under way ends
            self.buckets[name].destroy()
        finally:
            self.velero_faults.paused = held

    def set_replication_lag(self, seconds: float) -> None:
        """Objects reach the replica ``seconds`` after they were written."""
        for replicator in self.replicators:
            replicator.lag_seconds = seconds

    def pause_replication(self) -> None:
        """Break the replication link until :meth:`resume_replication`."""
        for replicator in self.replicators:
            replicator.pause()

    def resume_replication(self) -> None:
        for replicator in self.replicators:
            replicator.resume()

    def seal_vault(self) -> None:
        """Seal OpenBao: every secret read or write fails until :meth:`unseal_vault`."""
        if self.vault is not None:
            self.vault.seal()

    def unseal_vault(self) -> None:
        if self.vault is not None:
            self.vault.unseal()

    def _start(self) -> None:
        topology = self.options.topology
        if self._own_moto:
            self.moto.start()
            self._stack.callback(self.moto.stop)
        for bucket_name, region in topology.buckets.items():
            bucket = S3Bucket(self.moto.endpoint(region), bucket_name)
            bucket.create()
            self.buckets[bucket_name] = bucket
        for source, destination in topology.replication:
            replicator = BucketReplicator(
                self.buckets[source],
                self.buckets[destination],
                lag_seconds=self.options.replication_lag_seconds,
                poll_seconds=self.options.replication_poll_seconds,
            ).start()
            self.replicators.append(replicator)
            self._stack.callback(replicator.stop)
        self.velero_access_key = self._create_velero_key()
        resolver = BucketResolver(AwsAuthentication(self.moto))
        for spec in topology.clusters:
            self.clusters[spec.name] = self._start_cluster(spec, topology, resolver)
        if self.options.seed_applications:
            self._seed(self.clusters[topology.clusters[0].name])
        if self.options.vault:
            self.vault = OpenBaoDevServer().start()
            self._stack.callback(self.vault.stop)
        if self.vault is not None and self.options.vault_database:
            self.postgres, _initial_password = start_shop_database()
            self._stack.callback(self.postgres.stop)
            configure_shop_database(self.vault, self.postgres)

    def _start_cluster(self, spec: ClusterSpec, topology: Topology, resolver: BucketResolver) -> SandboxCluster:
        emulator = KubeEmulator(git_version=spec.kubernetes_version)
        emulator.faults.exempt_user_agents = (SIMULATOR_USER_AGENT,)
        emulator.start()
        self._stack.callback(emulator.stop)
        kube = KubeClient.from_api_url(emulator.url, cluster=spec.name)
        controller_kube = KubeClient.from_api_url(emulator.url, cluster=spec.name, user_agent=SIMULATOR_USER_AGENT)
        self._stack.callback(kube.close)
        self._stack.callback(controller_kube.close)
        _add_nodes(controller_kube, spec)
        key = self.velero_access_key
        assert key is not None
        if spec.role == "primary":  # drd "runs" in the primary: its Lease lives there (Helm creates this namespace)
            with contextlib.suppress(KubeAlreadyExists):
                controller_kube.create(NAMESPACES, {"metadata": {"name": "drd"}})
        install_velero(
            controller_kube,
            crds.velero_crds(),
            topology.locations.get(spec.name, ()),
            s3_url=self.moto.url,
            access_key_id=key.id,
            secret_access_key=key.secret.value,
        )
        velero = VeleroSimulator(
            controller_kube, resolver, timings=self.options.velero_timings, faults=self.velero_faults
        ).start()
        self._stack.callback(velero.stop)
        velero.run_periodic_now()
        workloads = WorkloadSimulator(controller_kube, timings=self.options.workload_timings).start()
        self._stack.callback(workloads.stop)
        return SandboxCluster(spec=spec, emulator=emulator, kube=kube, velero=velero, workloads=workloads)

    def _create_velero_key(self) -> NewAccessKey:
        """The ``velero`` IAM user and a new access key (its oldest key goes if a reused server left two)."""
        iam = self.moto.iam()
        iam.ensure_user(self.velero_iam_user)
        try:
            return iam.create_access_key(self.velero_iam_user)
        except AccessKeyLimitExceeded:
            oldest = iam.list_access_keys(self.velero_iam_user)[0]
            iam.delete_access_key(self.velero_iam_user, oldest.id)
            return iam.create_access_key(self.velero_iam_user)

    def _seed(self, cluster: SandboxCluster) -> None:
        for manifest in [*shop_manifests(), *catalog_manifests()]:
            resource = _resource_of(manifest)
            namespace = manifest["metadata"].get("namespace")
            with contextlib.suppress(KubeAlreadyExists):
                cluster.kube.create(resource, manifest, namespace=namespace)


def _add_nodes(kube: KubeClient, spec: ClusterSpec) -> None:
    zones = ["a", "b", "c"]
    for index in range(spec.nodes):
        zone = f"{spec.region}{zones[index % len(zones)]}"
        name = f"{spec.name}-node-{index}"
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/os": "linux",
                    "topology.kubernetes.io/region": spec.region,
                    "topology.kubernetes.io/zone": zone,
                    "node.kubernetes.io/instance-type": "m6i.large",
                },
            },
            "spec": {"providerID": f"aws:///{zone}/i-{index:017x}"},
        }
        with contextlib.suppress(KubeAlreadyExists):
            kube.create(NODES, node)
        status: dict[str, Any] = {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "nodeInfo": {
                "kubeletVersion": spec.kubernetes_version,
                "kubeProxyVersion": spec.kubernetes_version,
                "containerRuntimeVersion": "containerd://1.7.22",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "Amazon Linux 2023",
                "kernelVersion": "6.1.112",
            },
            "capacity": {"cpu": "2", "memory": "8Gi", "pods": "29"},
            "allocatable": {"cpu": "1930m", "memory": "7Gi", "pods": "29"},
        }
        kube.merge_patch(NODES, name, {"status": status}, subresource="status")


def _resource_of(manifest: dict[str, Any]) -> Resource:
    """The resource of a manifest of the kinds the sample applications use."""
    from drd.clients import kube_resources as r

    by_kind = {
        "Namespace": r.NAMESPACES,
        "ServiceAccount": Resource("", "v1", "serviceaccounts", "ServiceAccount"),
        "ConfigMap": r.CONFIGMAPS,
        "Secret": r.SECRETS,
        "Service": r.SERVICES,
        "Deployment": r.DEPLOYMENTS,
        "StatefulSet": r.STATEFULSETS,
        "CronJob": r.CRONJOBS,
    }
    return by_kind[manifest["kind"]]
