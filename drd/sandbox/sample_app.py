"""The sample applications seeded in the sandbox's primary cluster.

``shop``: a storefront and a checkout service (Deployments with Services), a
PostgreSQL StatefulSet with a PersistentVolumeClaim, configuration and
credentials, and two things a drill must not let run: a newsletter CronJob and
a payment-webhook consumer. ``catalog``: a stateless API. They match the
example policies in ``policies/``. Realistic enough that backups, restores and readiness checks have
something to chew on.
"""

from __future__ import annotations

import secrets
from typing import Any

Obj = dict[str, Any]


def _meta(name: str, namespace: str | None = None, **labels: str) -> Obj:
    meta: Obj = {"name": name, "labels": {"app.kubernetes.io/part-of": "shop", **labels}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _deployment(name: str, namespace: str, *, image: str, replicas: int, port: int, part_of: str) -> Obj:
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**_meta(name, namespace, **labels), "labels": {"app.kubernetes.io/part-of": part_of, **labels}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": image,
                            "ports": [{"containerPort": port}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": port}},
                        }
                    ]
                },
            },
        },
    }


def _service(name: str, namespace: str, *, port: int, target: int, part_of: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": part_of}},
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [{"name": "http", "port": port, "targetPort": target}],
            "clusterIP": f"10.96.{secrets.randbelow(250)}.{secrets.randbelow(250) + 2}",
        },
    }


def shop_manifests() -> list[Obj]:
    """The shop: namespace first, then everything in it."""
    ns = "shop"
    db_password = secrets.token_urlsafe(18)
    postgres_labels = {"app.kubernetes.io/name": "postgres"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, None, team="commerce")},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta("shop", ns)},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("storefront-config", ns),
            "data": {
                "CURRENCY": "EUR",
                "CHECKOUT_URL": "http://checkout.shop.svc:8080",
                "FEATURE_RECOMMENDATIONS": "true",
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": _meta("postgres-credentials", ns),
            "type": "Opaque",
            "stringData": {"PGUSER": "shop", "PGPASSWORD": db_password},
        },
        _deployment("storefront", ns, image="ghcr.io/example/storefront:2.4.1", replicas=2, port=8080, part_of="shop"),
        _service("storefront", ns, port=80, target=8080, part_of="shop"),
        _deployment("checkout", ns, image="ghcr.io/example/checkout:1.9.0", replicas=1, port=8080, part_of="shop"),
        _service("checkout", ns, port=8080, target=8080, part_of="shop"),
        _deployment(
            "payment-webhook-consumer",
            ns,
            image="ghcr.io/example/payments:3.2.0",
            replicas=1,
            port=8080,
            part_of="shop",
        ),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": _meta("postgres", ns, **postgres_labels),
            "spec": {
                "serviceName": "postgres",
                "replicas": 1,
                "selector": {"matchLabels": postgres_labels},
                "template": {
                    "metadata": {"labels": postgres_labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "postgres",
                                "image": "postgres:16.4",
                                "ports": [{"containerPort": 5432}],
                                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("postgres", ns),
            "spec": {"selector": postgres_labels, "ports": [{"port": 5432}], "clusterIP": "None"},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": _meta("newsletter", ns),
            "spec": {
                "schedule": "0 6 * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "restartPolicy": "OnFailure",
                                "containers": [{"name": "newsletter", "image": "ghcr.io/example/newsletter:1.0.3"}],
                            }
                        }
                    }
                },
            },
        },
    ]


def catalog_manifests() -> list[Obj]:
    """A stateless API."""
    ns = "catalog"
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": "catalog"}}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "catalog-api-config",
                "namespace": ns,
                "labels": {"app.kubernetes.io/part-of": "catalog-api"},
            },
            "data": {"CACHE_TTL": "300", "UPSTREAM": "https://pim.example.com"},
        },
        _deployment(
            "catalog-api", ns, image="ghcr.io/example/catalog-api:5.0.2", replicas=3, port=8080, part_of="catalog-api"
        ),
        _service("catalog-api", ns, port=8080, target=8080, part_of="catalog-api"),
    ]
