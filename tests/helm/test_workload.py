"""The Deployment: replicas and leader election, restricted security context, probes, PDB, env wiring."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm.conftest import NAMESPACE, Renderer, env_of, of_kind, one

VARIANTS = {
    "default": (),
    "sqlite": ("--set", "store.type=sqlite", "--set", "replicaCount=1"),
    "no-cluster-wide": (
        "--set",
        "rbac.clusterWide.enabled=false",
    ),
}


def _pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, "Deployment")["spec"]["template"]["spec"]
    return spec


@pytest.mark.parametrize("args", [*VARIANTS.values(), ("-f", "FULL")], ids=[*VARIANTS, "full"])
def test_every_container_runs_restricted(render: Renderer, args: tuple[str, ...]) -> None:
    """Pod and containers meet Pod Security "restricted": uid 65532, no escalation, read-only root, no caps."""
    docs = render.full() if args == ("-f", "FULL") else render(*args)
    pod = _pod(docs)
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsNonRoot"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "privileged" not in context
        assert "add" not in context["capabilities"]
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host)
    assert all("hostPath" not in v for v in pod["volumes"])


def test_tmp_is_a_writable_emptydir(render: Renderer) -> None:
    """With a read-only root filesystem, /tmp is an emptyDir with a size limit."""
    pod = _pod(render())
    (container,) = pod["containers"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    (tmp,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert tmp["emptyDir"] == {"sizeLimit": "256Mi"}


def test_probes_use_healthz_and_readyz(render: Renderer) -> None:
    """Liveness asks /healthz and readiness asks /readyz on the http-metrics port 9090."""
    (container,) = _pod(render())["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-metrics"}
    assert container["ports"] == [{"name": "http-metrics", "containerPort": 9090, "protocol": "TCP"}]
    assert env_of(one(render(), "Deployment"))["DRD_LISTEN"]["value"] == ":9090"


def test_resources_are_set(render: Renderer) -> None:
    """The container has CPU and memory requests and a memory limit."""
    (container,) = _pod(render())["containers"]
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]


def test_two_replicas_with_leader_election_by_default(render: Renderer) -> None:
    """By default two replicas run with leader election on, the Lease in the release namespace."""
    deployment = one(render(), "Deployment")
    env = env_of(deployment)
    assert deployment["spec"]["replicas"] == 2
    assert env["DRD_LEADER_ENABLED"]["value"] == "true"
    assert env["DRD_LEADER_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["DRD_LEADER_LEASE_NAME"]["value"] == "drd-leader"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_pdb_keeps_one_replica(render: Renderer) -> None:
    """A PodDisruptionBudget keeps at least one replica through voluntary disruptions."""
    pdb = one(render(), "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == one(render(), "Deployment")["spec"]["selector"]


def test_single_replica_has_no_pdb(render: Renderer) -> None:
    """With one replica (SQLite) no minAvailable=1 budget is rendered, which would block every node drain."""
    assert not of_kind(render(*VARIANTS["sqlite"]), "PodDisruptionBudget")


def test_sqlite_with_several_replicas_is_refused(render: Renderer) -> None:
    """store.type=sqlite with replicaCount > 1 fails the render with a message saying what to change."""
    error = render.error("--set", "store.type=sqlite")
    assert "store.type=sqlite supports exactly one replica" in error
    assert "replicaCount=2" in error
    assert "store.type=postgres" in error


def test_several_replicas_without_leader_election_are_refused(render: Renderer) -> None:
    """Turning leader election off with more than one replica fails the render."""
    assert "leader.enabled=false would let every replica act" in render.error("--set", "leader.enabled=false")


def test_sqlite_store_is_a_pvc_and_recreate(render: Renderer) -> None:
    """SQLite keeps its file on a kept PVC mounted at /var/lib/drd, with a Recreate strategy."""
    docs = render(*VARIANTS["sqlite"])
    deployment = one(docs, "Deployment")
    pvc = one(docs, "PersistentVolumeClaim", "drd-state")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert env_of(deployment)["DRD_STATE"] == {"name": "DRD_STATE", "value": "/var/lib/drd/drd.sqlite"}
    (state,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "state"]
    assert state["persistentVolumeClaim"] == {"claimName": "drd-state"}


def test_postgres_url_comes_from_a_secret(render: Renderer) -> None:
    """With PostgreSQL, DRD_STATE is a secretKeyRef to the named Secret and key, and no PVC is made."""
    docs = render("--set", "store.postgres.existingSecret=pg", "--set", "store.postgres.key=dsn")
    assert env_of(one(docs, "Deployment"))["DRD_STATE"]["valueFrom"] == {"secretKeyRef": {"name": "pg", "key": "dsn"}}
    assert not of_kind(docs, "PersistentVolumeClaim")


def test_postgres_without_a_secret_is_refused(render: Renderer) -> None:
    """store.type=postgres with no Secret name fails the render."""
    assert "store.postgres.existingSecret" in render.error("--set", "store.postgres.existingSecret=")


def test_every_setting_is_wired_into_the_environment(render: Renderer) -> None:
    """The full example wires every drd setting; secrets come only from secretKeyRef."""
    env = env_of(one(render.full(), "Deployment"))
    assert {
        "DRD_LISTEN", "DRD_CONFIG", "DRD_RUNBOOKS", "DRD_STATE", "DRD_LOG_LEVEL", "DRD_LOG_FORMAT",
        "DRD_SHUTDOWN_GRACE_SECONDS", "DRD_RELOAD_POLL_SECONDS", "DRD_KUBE_REQUEST_TIMEOUT_SECONDS",
        "DRD_LEADER_ENABLED", "DRD_LEADER_NAMESPACE", "DRD_LEADER_LEASE_NAME", "DRD_LEADER_LEASE_SECONDS",
        "DRD_LEADER_RENEW_SECONDS", "DRD_LEADER_RETRY_SECONDS", "DRD_NOTIFY_MIN_INTERVAL_SECONDS",
        "DRD_WEBHOOK_URL", "DRD_KUBECONFIG", "VAULT_ADDR", "VAULT_TOKEN", "AWS_DEFAULT_REGION",
        "DRD_PROMETHEUS_URL", "MALLOC_ARENA_MAX",
    } <= set(env)  # fmt: skip
    for secret in ("DRD_STATE", "DRD_WEBHOOK_URL", "VAULT_TOKEN"):
        assert set(env[secret]) == {"name", "valueFrom"}
        assert "secretKeyRef" in env[secret]["valueFrom"]
    assert env["DRD_CONFIG"]["value"] == "/etc/drd/config"
    assert env["DRD_RUNBOOKS"]["value"] == "/etc/drd/runbooks"


def test_kubeconfig_secrets_are_mounted_read_only(render: Renderer) -> None:
    """Other clusters' kubeconfig Secrets are mounted read-only and DRD_KUBECONFIG points at the main one."""
    deployment = one(render.full(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert env_of(deployment)["DRD_KUBECONFIG"]["value"] == "/etc/drd/kubeconfig/config"
    for path, secret in (("/etc/drd/kubeconfig", "drd-kubeconfigs"), ("/etc/drd/canary", "drd-canary-kubeconfig")):
        assert mounts[path]["readOnly"] is True
        assert volumes[mounts[path]["name"]]["secret"]["secretName"] == secret


def test_no_kubeconfig_by_default(render: Renderer) -> None:
    """Without clusters.kubeconfigSecret drd uses only its service account: no DRD_KUBECONFIG, no mount."""
    deployment = one(render(), "Deployment")
    assert "DRD_KUBECONFIG" not in env_of(deployment)
    assert "kubeconfig" not in {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}


def test_service_exposes_http_metrics(render: Renderer) -> None:
    """The Service publishes port 9090 named http-metrics to the drd pods of this release."""
    service = one(render(), "Service")
    assert service["metadata"]["namespace"] == NAMESPACE
    assert service["spec"]["ports"] == [
        {"name": "http-metrics", "port": 9090, "targetPort": "http-metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"] == one(render(), "Deployment")["spec"]["selector"]["matchLabels"]
