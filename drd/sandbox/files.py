"""What ``drd sandbox up --dir DIR`` writes: ``DIR/env``, ``DIR/kubeconfig``, ``DIR/config/``.

``env`` holds shell exports (``source DIR/env``) for drd, kubectl, boto3 and
Vault clients. It contains the sandbox's throw-away Vault root token and dummy
S3 credentials, so it is written with mode 0600.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from drd.sandbox.environment import Sandbox
from drd.sandbox.s3 import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY
from drd.sandbox.sandbox_config import write_config


def write_files(sandbox: Sandbox, directory: Path) -> dict[str, Path]:
    """Write env, kubeconfig and config/ for a running sandbox; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    kubeconfig = directory / "kubeconfig"
    _write_private(kubeconfig, json.dumps(sandbox.kubeconfig(), indent=2) + "\n")
    config = write_config(sandbox, directory / "config")
    state = directory / "drd.sqlite"
    exports = {
        "DRD_CONFIG": str(config),
        "DRD_STATE": str(state),
        "KUBECONFIG": str(kubeconfig),
        "AWS_ENDPOINT_URL": sandbox.moto.url,
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "DRD_LEADER_NAMESPACE": "drd",
    }
    if sandbox.vault is not None:
        exports |= {"VAULT_ADDR": sandbox.vault.url, "VAULT_TOKEN": sandbox.vault.root_token}
    lines = ["# drd sandbox environment: source this file in a shell (it holds throw-away credentials)"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    env = directory / "env"
    _write_private(env, "\n".join(lines) + "\n")
    return {"env": env, "kubeconfig": kubeconfig, "config": config, "state": state}


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
