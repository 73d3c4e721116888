"""Deprecated-API pre-flight over the sandbox: a real client requests an API v1.32 removes, and the plan blocks.

Aspects covered: after kubectl lists ``flowschemas.v1beta3.flowcontrol.apiserver.k8s.io`` in the canary, the facts
carry it and ``drd upgrade plan`` exits 1 naming ``API/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas``, the
release that removes it and the version to move to; a cluster whose ``/metrics`` answers 403 gets a warning that the
check could not run; untouched clusters have no deprecated-API finding.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from drd.cli.main import main
from drd.sandbox.environment import Sandbox
from drd.sandbox.files import write_files
from drd.upgrades import facts, preflight
from drd.upgrades.preflight import DeprecatedApi, Severity

ROOT = Path(__file__).parents[2]
KUBECTL = shutil.which("kubectl")
Drd = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kubeconfig(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sandbox's files, with the example plan in its configuration and drd's environment pointing at them."""
    paths = write_files(sandbox, tmp_path / "sb")
    (paths["config"] / "upgrade-1-32.yaml").write_text(
        (ROOT / "policies" / "upgrade-1-32.yaml").read_text().replace("canaryDrill: shop-nightly", "")
    )
    monkeypatch.setenv("DRD_CONFIG", str(paths["config"]))
    monkeypatch.setenv("KUBECONFIG", str(paths["kubeconfig"]))
    monkeypatch.setenv("DRD_STATE", str(tmp_path / "drd.sqlite"))
    return paths["kubeconfig"]


def drd(*argv: str) -> tuple[int, str, str]:
    """``drd`` in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_a_client_of_a_removed_api_blocks_the_upgrade(sandbox: Sandbox, kubeconfig: Path) -> None:
    """kubectl lists FlowSchemas through v1beta3 in the canary; the plan blocks the canary naming that API."""
    assert KUBECTL is not None
    listed = subprocess.run(
        [KUBECTL, f"--kubeconfig={kubeconfig}", "--context=canary-east", "get",
         "flowschemas.v1beta3.flowcontrol.apiserver.k8s.io"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert "is deprecated in v1.29+, unavailable in v1.32+" in listed.stderr
    code, out, _ = drd("upgrade", "plan", "upgrade-1-32")
    assert code == 1
    assert (
        "blocking: API/flowcontrol.apiserver.k8s.io/v1beta3/flowschemas: requested since the API server started, "
        "and removed in 1.32: v1.32.0 no longer serves it; move its clients to flowcontrol.apiserver.k8s.io/v1 first"
    ) in out
    assert out.count("API/flowcontrol.apiserver.k8s.io") == 1  # only the canary was called through v1beta3


def test_facts_carry_the_deprecated_apis_requested(sandbox: Sandbox) -> None:
    """gather() reads the API server's /metrics: the v1beta3 request drd's own client made is there."""
    canary = sandbox.cluster("canary-east")
    canary.kube.get_path("/apis/flowcontrol.apiserver.k8s.io/v1beta3/prioritylevelconfigurations")
    found = facts.gather(canary.kube, cluster="canary-east")
    assert found.deprecated_apis == (
        DeprecatedApi("flowcontrol.apiserver.k8s.io", "v1beta3", "prioritylevelconfigurations", "", "1.32"),
    )
    assert found.deprecated_apis_unchecked is None


def test_metrics_refused_is_a_warning_that_the_check_did_not_run(sandbox: Sandbox) -> None:
    """A 403 on /metrics (drd may not read it) gives a warning naming the refusal, never a silent pass."""
    canary = sandbox.cluster("canary-east")
    canary.emulator.fail_next(1, status=403, path_pattern="^/metrics$")
    found = facts.gather(canary.kube, cluster="canary-east")
    (finding,) = [f for f in preflight.check(found, "v1.32.0") if f.rule == "deprecated-api"]
    assert (finding.severity, finding.object) == (Severity.WARNING, "Cluster/canary-east")
    assert "deprecated-API usage could not be checked (HTTP 403:" in finding.message
    assert "the check did not run" in finding.message
