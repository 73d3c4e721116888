"""Policies and runbooks as ConfigMaps; secrets never in ConfigMaps or values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helm.conftest import FULL_VALUES, Renderer, of_kind, one


def test_config_and_runbooks_are_mounted_from_configmaps(render: Renderer) -> None:
    """The policies and runbooks ConfigMaps are mounted read-only where DRD_CONFIG and DRD_RUNBOOKS point."""
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["config"] == {"name": "config", "mountPath": "/etc/drd/config", "readOnly": True}
    assert mounts["runbooks"] == {"name": "runbooks", "mountPath": "/etc/drd/runbooks", "readOnly": True}
    assert volumes["config"]["configMap"]["name"] == "drd-config"
    assert volumes["runbooks"]["configMap"]["name"] == "drd-runbooks"


def test_existing_configmaps_replace_the_rendered_ones(render: Renderer) -> None:
    """With existingConfigMap names the chart mounts those and renders no ConfigMap of its own for them."""
    docs = render("--set", "config.existingConfigMap=my-policies", "--set", "runbooks.existingConfigMap=my-runbooks")
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == "my-policies"
    assert volumes["runbooks"]["configMap"]["name"] == "my-runbooks"
    assert [c["metadata"]["name"] for c in of_kind(docs, "ConfigMap")] == ["drd-dashboard"]


def test_rendered_config_is_a_valid_drd_configuration(render: Renderer, tmp_path: Path) -> None:
    """The full example's inline inventory, written out as the ConfigMap mounts it, passes `drd policies validate`."""
    config = one(render.full(), "ConfigMap", "drd-config")
    for name, text in config["data"].items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "drd", "policies", "validate", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_secrets_cannot_be_given_as_values(render: Renderer) -> None:
    """Inline secret values are refused by the schema: only Secret names are accepted."""
    for setting in (
        "vault.token=s.abc",
        "notify.webhook=https://hooks.example/T0/B0/x",
        "store.postgres.url=pg://u:p@h",
    ):
        assert "values don't meet the specifications of the schema" in render.error("--set", setting)


def test_secret_names_never_reach_configmaps_as_values(render: Renderer) -> None:
    """With every secret wired (full example), no ConfigMap carries a secret reference or a credential."""
    for configmap in of_kind(render.full(), "ConfigMap"):
        text = "\n".join(configmap.get("data", {}).values())
        for needle in ("drd-postgres", "drd-webhook", "drd-vault", "VAULT_TOKEN", "postgresql://", "token:"):
            assert needle not in text, (configmap["metadata"]["name"], needle)


def test_the_chart_renders_no_secret(render: Renderer) -> None:
    """The chart never creates a Secret: credentials are always provided out of band."""
    for docs in (render(), render.full()):
        assert not of_kind(docs, "Secret")


def test_full_example_is_the_one_ci_lints() -> None:
    """The documented example values file exists where .ci/run lints it."""
    assert FULL_VALUES.is_file()
    assert "helm/drd/ci/full-values.yaml" in (FULL_VALUES.parents[3] / ".ci" / "run").read_text()
