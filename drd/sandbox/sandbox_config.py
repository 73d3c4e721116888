"""The sandbox's own inventory and policies (``DIR/config/``), on accelerated schedules.

Same applications and checks as the commented examples in ``policies/``, but
backups every few minutes and drills every quarter of an hour, so that the
demo shows objectives being met (and breached) in minutes rather than days.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from drd.sandbox.environment import Sandbox

API_VERSION = "drd.dev/v1"


def write_config(sandbox: Sandbox, directory: Path) -> Path:
    """Write clusters.yaml, the shop's and catalog API's policies, a rotation and (with a canary) an upgrade plan."""
    directory.mkdir(parents=True, exist_ok=True)
    kubeconfig = directory.parent / "kubeconfig"
    clusters = [
        _cluster(c.spec.name, c.spec.region, c.spec.role, c.spec.provider, kubeconfig)
        for c in sandbox.clusters.values()
    ]
    _dump(directory / "clusters.yaml", clusters, "The sandbox's clusters: one kubeconfig context each.")
    _dump(directory / "shop.yaml", shop_policies(), "The shop, backed up every minute and drilled every 15.")
    _dump(directory / "catalog-api.yaml", catalog_policies(), "The catalog API, a stateless service.")
    _dump(directory / "rotation.yaml", rotation_policies(), "A secret of the shop, rotated through Vault on demand.")
    canaries = [c.spec.name for c in sandbox.clusters.values() if c.spec.role == "canary"]
    if canaries:
        version = next(iter(sandbox.clusters.values())).spec.kubernetes_version
        _dump(directory / "upgrade.yaml", [upgrade_plan(version)], "The next Kubernetes minor, canary first.")
    return directory


def rotation_policies() -> list[dict[str, Any]]:
    """A generated token of the shop, delivered to its Secret in primary-east, its storefront restarted."""
    return [
        {
            "apiVersion": API_VERSION,
            "kind": "RotationPolicy",
            "metadata": {"name": "shop-payments-token"},
            "spec": {
                "source": {"type": "generated", "length": 48},
                "vault": {"path": "drd/shop/payments-token"},
                "deliver": [
                    {
                        "clusters": ["primary-east"],
                        "namespace": "shop",
                        "secret": "payments-token",
                        "keys": {"token": "value"},
                    }
                ],
                "consumers": [
                    {"clusters": ["primary-east"], "namespace": "shop", "kind": "Deployment", "name": "storefront"}
                ],
                "verify": [
                    {"type": "workloadsReady", "namespace": "shop", "timeout": "1m"},
                    {"type": "http", "namespace": "shop", "service": "storefront", "port": 80, "path": "/healthz"},
                ],
                "verifyTimeout": "2m",
                "gracePeriod": "0s",
            },
        }
    ]


def upgrade_plan(current: str) -> dict[str, Any]:
    """The next minor after ``current``: the canary (proven by a drill of the shop), an approval, then the rest."""
    major, minor = current.lstrip("v").split(".")[:2]
    return {
        "apiVersion": API_VERSION,
        "kind": "UpgradePlan",
        "metadata": {"name": "sandbox-next-minor"},
        "spec": {
            "targetVersion": f"v{major}.{int(minor) + 1}.0",
            "stages": [
                {"name": "canary", "clusters": {"role": "canary"}, "gates": [{"type": "health"}, {"type": "approval"}]},
                {"name": "dr", "clusters": {"role": "dr"}},
                {"name": "production", "clusters": {"role": "primary"}},
            ],
            "drain": {"timeout": "2m"},
            "verifyTimeout": "2m",
            "canaryDrill": "shop-drill",
        },
    }


def _cluster(name: str, region: str, role: str, provider: str, kubeconfig: Path) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "region": region,
            "role": role,
            "provider": provider,
            "connection": {"kubeconfig": str(kubeconfig), "context": name},
            "veleroNamespace": "velero",
        },
    }


def shop_policies() -> list[dict[str, Any]]:
    """BackupPolicy and DrillPolicy of the shop."""
    backup = {
        "apiVersion": API_VERSION,
        "kind": "BackupPolicy",
        "metadata": {"name": "shop", "labels": {"team": "commerce"}},
        "spec": {
            "application": "shop",
            "cluster": "primary-east",
            "scope": {"includedNamespaces": ["shop"], "excludedResources": ["events", "events.events.k8s.io"]},
            "schedule": "@every 1m",
            "ttl": "1d",
            "retention": {"keepLast": 10},
            "storageLocation": "default",
            "volumes": {"fsBackup": True},
            "objectives": {"rpo": "3m"},
        },
    }
    drill = {
        "apiVersion": API_VERSION,
        "kind": "DrillPolicy",
        "metadata": {"name": "shop-drill", "labels": {"team": "commerce"}},
        "spec": {
            "backupPolicy": "shop",
            "target": "dr-west",
            "schedule": "*/15 * * * *",
            "objectives": {"rto": "2m"},
            "isolation": {
                "namespacePrefix": "drill-",
                "denyNetwork": True,
                "scaleToZero": ["CronJob/newsletter", "Deployment/payment-webhook-consumer"],
            },
            "verify": [
                {"type": "objectsPresent"},
                {"type": "workloadsReady", "timeout": "1m"},
                {"type": "http", "name": "storefront-healthy", "service": "storefront", "port": 80, "path": "/healthz"},
            ],
            "teardown": {"keepFailedFor": "10m"},
        },
    }
    return [backup, drill]


def catalog_policies() -> list[dict[str, Any]]:
    """BackupPolicy and DrillPolicy of the catalog API."""
    backup = {
        "apiVersion": API_VERSION,
        "kind": "BackupPolicy",
        "metadata": {"name": "catalog-api"},
        "spec": {
            "application": "catalog-api",
            "cluster": "primary-east",
            "scope": {
                "includedNamespaces": ["catalog"],
                "labelSelector": {"matchLabels": {"app.kubernetes.io/part-of": "catalog-api"}},
            },
            "schedule": "*/5 * * * *",
            "ttl": "1d",
            "retention": {"keepLast": 6},
            "objectives": {"rpo": "15m"},
        },
    }
    drill = {
        "apiVersion": API_VERSION,
        "kind": "DrillPolicy",
        "metadata": {"name": "catalog-api-drill"},
        "spec": {
            "backupPolicy": "catalog-api",
            "target": "dr-west",
            "schedule": "*/30 * * * *",
            "objectives": {"rto": "2m"},
            "verify": [
                {"type": "workloadsReady"},
                {
                    "type": "resourceExists",
                    "object": {"apiVersion": "v1", "kind": "ConfigMap", "name": "catalog-api-config"},
                },
            ],
        },
    }
    return [backup, drill]


def _dump(path: Path, documents: list[dict[str, Any]], comment: str) -> None:
    text = yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
    path.write_text(f"# {comment}\n# Written by `drd sandbox`; edit freely, the sandbox rewrites it on start.\n{text}")
