"""The real kubectl against the emulator, through a kubeconfig written to the test's tmp_path.

Aspects: ``get`` as a server-side Table and as JSON; client-side ``apply`` creating
and then updating through the last-applied annotation (strategic merge for
built-ins, JSON merge for Velero CRs); ``delete``; ``describe``; ``label``;
``annotate``; ``get -w`` catching a live event; Velero Backups by their full name.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from drd.sandbox.kube.emulator import KubeEmulator
from tests.sandbox.kube.conftest import Kubectl

pytestmark = pytest.mark.usefixtures("kubectl")

CONFIG_MAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {{app: drd}}
data:
  mode: {mode}
"""

BACKUP = """
apiVersion: velero.io/v1
kind: Backup
metadata: {{name: nightly, namespace: velero}}
spec:
  ttl: {ttl}
  includedNamespaces: [shop]
"""


def test_get_prints_a_table(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl get configmaps prints the server's Table columns NAME, DATA, AGE."""
    velero_emu.store.create("configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}}, namespace="default")
    lines = kubectl.run("get", "configmaps").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert lines[1].split()[:2] == ["c", "1"]


def test_get_json(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl get -o json returns the stored object."""
    velero_emu.store.create("configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}}, namespace="default")
    obj = json.loads(kubectl.run("get", "configmap", "c", "-o", "json").stdout)
    assert (obj["kind"], obj["data"]) == ("ConfigMap", {"a": "1"})


def test_get_missing_object_reports_not_found(kubectl: Kubectl):
    """kubectl get of a missing object fails with the server's NotFound message."""
    result = kubectl.run("get", "configmap", "nope", check=False)
    assert result.returncode == 1
    assert 'Error from server (NotFound): configmaps "nope" not found' in result.stderr


def test_apply_creates_then_updates(kubectl: Kubectl, velero_emu: KubeEmulator):
    """Client-side apply creates the object with the last-applied annotation, then patches the change."""
    assert "created" in kubectl.run("apply", "-f", "-", stdin=CONFIG_MAP.format(mode="a")).stdout
    assert "configured" in kubectl.run("apply", "-f", "-", stdin=CONFIG_MAP.format(mode="b")).stdout
    stored = velero_emu.store.get("configmaps", "settings", namespace="default")
    assert stored["data"] == {"mode": "b"}
    last_applied = json.loads(stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["data"] == {"mode": "b"}


def test_apply_of_a_deployment_merges_containers(kubectl: Kubectl, velero_emu: KubeEmulator):
    """Re-applying a Deployment with a new image updates it in place and bumps its generation."""
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]}]},
            },
        },
    }
    kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest))
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest))
    stored = velero_emu.store.get("deployments", "web", namespace="default")
    container = stored["spec"]["template"]["spec"]["containers"][0]
    assert (
        container["image"],
        container["env"],
        stored["metadata"]["generation"],
    ) == ("nginx:2", [{"name": "A", "value": "1"}], 2)


def test_apply_of_a_velero_backup(kubectl: Kubectl, velero_emu: KubeEmulator):
    """A Backup manifest is applied, re-applied with a new TTL, and listed as backups.velero.io."""
    kubectl.run("apply", "-f", "-", stdin=BACKUP.format(ttl="720h0m0s"))
    kubectl.run("apply", "-f", "-", stdin=BACKUP.format(ttl="24h0m0s"))
    assert velero_emu.store.get("backups.velero.io", "nightly", namespace="velero")["spec"]["ttl"] == "24h0m0s"
    lines = kubectl.run("get", "backups.velero.io", "-n", "velero").stdout.splitlines()
    assert (lines[0].split(), lines[1].split()[0]) == (["NAME", "AGE"], "nightly")


def test_get_velero_location_uses_printer_columns(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl get bsl shows the CRD's printer columns (Phase, Last Validated, Age, Default)."""
    velero_emu.store.create(
        "backupstoragelocations.velero.io",
        {
            "metadata": {"name": "default"},
            "spec": {"provider": "aws", "default": True},
            "status": {"phase": "Available"},
        },
        namespace="velero",
    )
    lines = kubectl.run("get", "bsl", "-n", "velero").stdout.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "LAST", "VALIDATED", "AGE", "DEFAULT"]
    assert lines[1].split()[:2] == ["default", "Available"]
    assert lines[1].split()[-1] == "true"


def test_delete(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl delete removes the object."""
    velero_emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    assert 'configmap "c" deleted' in kubectl.run("delete", "configmap", "c").stdout
    assert velero_emu.store.list("configmaps", namespace="default") == []


def test_delete_namespace_waits_for_the_cascade(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl delete namespace returns once the namespace and its content are gone."""
    velero_emu.store.create("namespaces", {"metadata": {"name": "drill"}})
    velero_emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="drill")
    kubectl.run("delete", "namespace", "drill")
    assert velero_emu.store.list("namespaces", field_selector="metadata.name=drill") == []


def test_describe_shows_the_object(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl describe succeeds and names the object, for a built-in and for a Velero Backup."""
    velero_emu.store.create("configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}}, namespace="default")
    velero_emu.store.create("backups.velero.io", {"metadata": {"name": "nightly"}, "spec": {}}, namespace="velero")
    described = kubectl.run("describe", "configmap", "c").stdout
    described_backup = kubectl.run("describe", "backup", "nightly", "-n", "velero").stdout
    assert "Name:         c" in described
    assert "Name:         nightly" in described_backup
    assert "Kind:         Backup" in described_backup


def test_label_and_annotate(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl label and annotate patch the object's metadata."""
    velero_emu.store.create("configmaps", {"metadata": {"name": "c"}}, namespace="default")
    kubectl.run("label", "configmap", "c", "tier=db")
    kubectl.run("annotate", "configmap", "c", "drd.io/note=hello")
    meta = velero_emu.store.get("configmaps", "c", namespace="default")["metadata"]
    assert (meta["labels"], meta["annotations"]) == ({"tier": "db"}, {"drd.io/note": "hello"})


def test_label_a_velero_backup(kubectl: Kubectl, velero_emu: KubeEmulator):
    """kubectl label works on a custom resource (merge patch)."""
    velero_emu.store.create("backups.velero.io", {"metadata": {"name": "nightly"}, "spec": {}}, namespace="velero")
    kubectl.run("label", "backups.velero.io", "nightly", "-n", "velero", "drd.io/drill=yes")
    backup = velero_emu.store.get("backups.velero.io", "nightly", namespace="velero")
    assert backup["metadata"]["labels"] == {"drd.io/drill": "yes"}


@pytest.mark.parametrize(
    ("resource", "namespace", "create"),
    [
        ("configmaps", "default", {"metadata": {"name": "watched"}}),
        ("backups.velero.io", "velero", {"metadata": {"name": "watched"}, "spec": {}}),
    ],
)
def test_get_watch_prints_a_live_event(
    kubectl: Kubectl, velero_emu: KubeEmulator, resource: str, namespace: str, create: dict[str, object]
):
    """kubectl get -w prints an object created while it watches."""
    argv = kubectl.command("get", resource, "-n", namespace, "-w", "--output-watch-events")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            time.sleep(0.5)
            velero_emu.store.create(resource, create, namespace=namespace)
            assert process.stdout is not None
            lines = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                lines.append(line)
                if "watched" in line:
                    break
        finally:
            process.kill()
    assert next(line for line in lines if "watched" in line).split()[0] == "ADDED"
