"""Restore verification at scale: a backup of 10 000 objects checked against the cluster it was restored to.

Run: ``.venv/bin/python benchmarks/drill_verification.py [--objects 10000] [--namespaces 50] [--runs 5]
[--latency-ms 0] [--concurrency 8]``.

One Kubernetes API emulator in this process holds the restored objects, seeded
through its in-process store (no HTTP, so seeding is not what is timed): the
namespaces ``drill-app-NN`` with ConfigMaps, Secrets, Services, ServiceAccounts
and Deployments, spread evenly. The resource list names them as Velero wrote
them at backup time, in the source namespaces ``app-NN``, plus each Namespace.
Each run times :func:`drd.operations.restore_verification.verify_objects` over
real HTTP with a fresh :class:`~drd.clients.kube.KubeClient` (so discovery is
paid every time): the mapping, one LIST per (kind, namespace), ``--concurrency``
at a time, the comparison. ``--latency-ms`` adds that much to every API answer,
as a remote API server's round trip would.

Target: p50 <= 3 s for 10 000 objects. Figures only; nothing here asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from drd.clients.kube import KubeClient
from drd.operations import restore_verification
from drd.sandbox.kube.emulator import KubeEmulator

TARGET_SECONDS = 3.0
KINDS: tuple[tuple[str, str, str], ...] = (
    ("v1", "ConfigMap", "configmaps"),
    ("v1", "Secret", "secrets"),
    ("v1", "Service", "services"),
    ("v1", "ServiceAccount", "serviceaccounts"),
    ("apps/v1", "Deployment", "deployments.apps"),
)


def a_manifest(api_version: str, kind: str, name: str, namespace: str, index: int) -> dict[str, Any]:
    """A restored object of a realistic size, labelled as Velero labels what it restores."""
    metadata = {
        "name": name,
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/name": name,
            "velero.io/backup-name": "nightly-20260601010000",
            "velero.io/restore-name": "drill-20260601",
        },
    }
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": metadata}
    if kind == "ConfigMap":
        body["data"] = {"settings.yaml": f"replicas: {index}\nfeature: on\n" * 4}
    elif kind == "Secret":
        body["type"] = "Opaque"
        body["data"] = {"password": "c2VjcmV0LXZhbHVlLW9mLWFib3V0LTMyLWJ5dGVz"}
    elif kind == "Service":
        body["spec"] = {"selector": {"app.kubernetes.io/name": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    elif kind == "Deployment":
        labels = {"app.kubernetes.io/name": name}
        container = {"name": "app", "image": "ghcr.io/example/app:1.0.0", "ports": [{"containerPort": 8080}]}
        body["spec"] = {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        }
    return body


def seed(emulator: KubeEmulator, *, objects: int, namespaces: int) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Create the restored objects; return the backup's resource list and the restore's namespace mapping."""
    listing: dict[str, list[str]] = {"v1/Namespace": []}
    mapping: dict[str, str] = {}
    per_namespace = objects // namespaces
    for n in range(namespaces):
        source, target = f"app-{n:02d}", f"drill-app-{n:02d}"
        mapping[source] = target
        listing["v1/Namespace"].append(source)
        emulator.store.create("namespaces", {"metadata": {"name": target}})
        for i in range(per_namespace):
            api_version, kind, resource = KINDS[i % len(KINDS)]
            name = f"{kind.lower()}-{i:04d}"
            emulator.store.create(resource, a_manifest(api_version, kind, name, target, i), namespace=target)
            listing.setdefault(f"{api_version}/{kind}", []).append(f"{source}/{name}")
    return {gvk: sorted(entries) for gvk, entries in listing.items()}, mapping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="objects in the backup (namespaces excluded)")
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every API answer")
    parser.add_argument("--concurrency", type=int, default=restore_verification.DEFAULT_CONCURRENCY)
    args = parser.parse_args()
    with KubeEmulator() as emulator:
        started = time.perf_counter()
        listing, mapping = seed(emulator, objects=args.objects, namespaces=args.namespaces)
        seeded = time.perf_counter() - started
        total = sum(len(entries) for entries in listing.values())
        print(f"seeded {total} objects ({len(listing)} kinds, {args.namespaces} namespaces) in {seeded:.2f}s")
        emulator.set_faults(latency=args.latency_ms / 1000.0)
        samples = []
        report = None
        for _ in range(args.runs):
            kube = KubeClient.from_api_url(emulator.url, cluster="bench", timeout_seconds=60)
            try:
                started = time.perf_counter()
                report = restore_verification.verify_objects(
                    kube, listing, namespace_mapping=mapping, concurrency=args.concurrency
                )
                samples.append(time.perf_counter() - started)
            finally:
                kube.close()
    assert report is not None
    lists = len(KINDS) * args.namespaces + 1
    print(f"verify_objects: expected {report.expected}, found {report.found}, missing {len(report.missing)}")
    print(
        f"{'runs':<6} {'p50':>8} {'min':>8} {'max':>8}   {'target':<10} ratio   "
        f"({lists} LISTs per run, {args.concurrency} at a time, +{args.latency_ms:g} ms each)"
    )
    p50 = statistics.median(samples)
    print(
        f"{len(samples):<6} {p50:7.3f}s {min(samples):7.3f}s {max(samples):7.3f}s   "
        f"p50 <= {TARGET_SECONDS:g}s {p50 / TARGET_SECONDS:5.2f}"
    )


if __name__ == "__main__":
    main()
