"""``velero install`` for a simulated cluster: CRDs, namespace, credentials, storage locations, server Deployment."""

from __future__ import annotations

import contextlib
from typing import Any

from drd.clients.errors import KubeAlreadyExists
from drd.clients.kube import KubeClient
from drd.clients.kube_resources import (
    CRDS,
    DEPLOYMENTS,
    NAMESPACES,
    SECRETS,
    VELERO_STORAGE_LOCATIONS,
)
from drd.sandbox.topology import LocationSpec
from drd.velero.vocabulary import API_VERSION


def install_velero(
    kube: KubeClient,
    crds: list[dict[str, Any]],
    locations: tuple[LocationSpec, ...],
    *,
    s3_url: str,
    access_key_id: str,
    secret_access_key: str,
    namespace: str = "velero",
    sync_period: str | None = None,
) -> None:
    """Install Velero's CRDs and objects the way ``velero install`` leaves a cluster."""
    for crd in crds:
        with contextlib.suppress(KubeAlreadyExists):
            kube.create(CRDS, crd)
    with contextlib.suppress(KubeAlreadyExists):
        kube.create(NAMESPACES, {"metadata": {"name": namespace, "labels": {"component": "velero"}}})
    credentials = f"[default]\naws_access_key_id={access_key_id}\naws_secret_access_key={secret_access_key}\n"
    secrets_to_create = [
        {
            "metadata": {"name": "cloud-credentials", "labels": {"component": "velero"}},
            "stringData": {"cloud": credentials},
        },
        {
            "metadata": {"name": "velero-repo-credentials", "labels": {"component": "velero"}},
            "stringData": {"repository-password": "static-passw0rd"},
        },
    ]
    for secret in secrets_to_create:
        with contextlib.suppress(KubeAlreadyExists):
            kube.create(
                SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", **secret}, namespace=namespace
            )
    for location in locations:
        with contextlib.suppress(KubeAlreadyExists):
            kube.create(VELERO_STORAGE_LOCATIONS, _bsl(location, s3_url, sync_period), namespace=namespace)
    with contextlib.suppress(KubeAlreadyExists):
        kube.create(DEPLOYMENTS, _server_deployment(namespace), namespace=namespace)


def _bsl(location: LocationSpec, s3_url: str, sync_period: str | None) -> dict[str, Any]:
    bsl: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "BackupStorageLocation",
        "metadata": {"name": location.name, "labels": {"component": "velero"}},
        "spec": {
            "provider": "aws",
            "default": location.default,
            "accessMode": "ReadOnly" if location.read_only else "ReadWrite",
            "objectStorage": {"bucket": location.bucket, "prefix": location.prefix},
            "config": {"region": location.region, "s3Url": s3_url, "s3ForcePathStyle": "true"},
            "credential": {"name": "cloud-credentials", "key": "cloud"},
        },
    }
    if sync_period is not None:  # unset: the server's --backup-sync-period applies, as after `velero install`
        bsl["spec"]["backupSyncPeriod"] = sync_period
    return bsl


def _server_deployment(namespace: str) -> dict[str, Any]:
    labels = {"component": "velero", "deploy": "velero"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "velero", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"deploy": "velero"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": "velero",
                    "containers": [
                        {
                            "name": "velero",
                            "image": "velero/velero:v1.18.1",
                            "args": ["server", f"--namespace={namespace}", "--uploader-type=kopia"],
                            "ports": [{"name": "metrics", "containerPort": 8085}],
                        }
                    ],
                },
            },
        },
    }
