"""The emulator as a separate process: ``python -m drd.sandbox.kube``.

Aspects: it prints its URL once serving, answers the official client, can install
Velero's CRDs and write a kubeconfig, and exits cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from kubernetes import client


def test_subprocess_prints_its_url_and_serves(tmp_path: Path):
    """The process prints http://127.0.0.1:<port>, serves the API there, and exits 0 on SIGTERM."""
    kubeconfig = tmp_path / "kubeconfig"
    argv = [sys.executable, "-m", "drd.sandbox.kube", "--port", "0", "--velero", "--kubeconfig", str(kubeconfig)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            configuration = client.Configuration()
            configuration.host = url
            with client.ApiClient(configuration) as api:
                groups = [g.name for g in client.ApisApi(api).get_api_versions().groups]
            assert url.startswith("http://127.0.0.1:")
            assert "velero.io" in groups
            assert url == json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    assert process.returncode == 0
