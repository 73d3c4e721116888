"""The step library: the implementation of every step type of the catalogue, over drd's operations layer."""

from __future__ import annotations

from drd.runbooks.engine.actions import Action
from drd.runbooks.steps import control, drill_steps, kube_steps, other_steps, restore_steps, velero_steps


def default_actions() -> dict[str, Action]:
    """Step type name → implementation (``approval`` is the engine's own gate, not an action)."""
    return {
        "velero.findBackup": velero_steps.FindBackup(),
        "velero.listBackups": velero_steps.ListBackups(),
        "velero.backup": velero_steps.CreateBackup(),
        "velero.restore": velero_steps.Restore(),
        "velero.waitForPhase": velero_steps.WaitForPhase(),
        "velero.setLocationAccessMode": velero_steps.SetLocationAccessMode(),
        "k8s.get": kube_steps.GetObject(),
        "k8s.apply": kube_steps.Apply(),
        "k8s.patch": kube_steps.Patch(),
        "k8s.annotate": kube_steps.Annotate(),
        "k8s.delete": kube_steps.Delete(),
        "k8s.scale": kube_steps.Scale(),
        "k8s.waitReady": kube_steps.WaitReady(),
        "k8s.isolateNamespace": kube_steps.IsolateNamespace(),
        "k8s.deleteNamespace": kube_steps.DeleteNamespace(),
        "job.run": other_steps.RunJob(),
        "check.http": other_steps.HttpCheck(),
        "check.tcp": other_steps.TcpCheck(),
        "check.prometheus": other_steps.PrometheusCheck(),
        "vault.read": other_steps.VaultRead(),
        "vault.write": other_steps.VaultWrite(),
        "notify": control.NotifyStep(),
        "sleep": control.SleepStep(),
        "assert": control.AssertStep(),
        "drill.prepare": drill_steps.Prepare(),
        "drill.isolate": drill_steps.Isolate(),
        "drill.stopWorkloads": drill_steps.StopWorkloads(),
        "drill.verify": drill_steps.Verify(),
        "drill.captureEvidence": drill_steps.CaptureEvidence(),
        "drill.teardown": drill_steps.Teardown(),
        "restore.verify": restore_steps.Verify(),
    }
