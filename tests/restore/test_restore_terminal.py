"""``drd restore`` driven through a pseudo-terminal as a person would: tmux runs it, the test reads the screen.

A real process in a tmux pane (its own tmux server, by socket name, killed at the end) against the sandbox:
the plan and the ``[y/N]`` question appear, the test types ``y`` and Enter, the live progress line is redrawn
in place (a terminal), and the screen ends with the verified outcome and exit code 0. A second test presses
Ctrl-C while Velero restores: the command detaches with exit 130, saying how to follow the run, and the
Restore it started goes on in the cluster.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drd.clients.kube_resources import VELERO_RESTORES
from drd.sandbox.files import write_files
from tests.restore.conftest import restores
from tests.runbooks.engine.conftest import REQUESTER, RUNBOOKS, policy_backup
from tests.sandbox.velero.support import eventually

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

DRD = Path(sys.executable).with_name("drd")
SCREEN_SECONDS = 30.0
"""Interpreter start-up, imports and the restore itself, on a busy machine."""


class Pane:
    """One tmux pane running one shell command, on a private tmux server."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout

    def screen(self) -> str:
        """What the pane shows, scrollback included, as a person sees it (redrawn lines as they ended)."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-500", "-t", "restore")

    def wait_for(self, text: str, timeout: float = SCREEN_SECONDS) -> str:
        return str(eventually(lambda: self.screen() if text in self.screen() else None, timeout=timeout, interval=0.1))

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "restore", *keys)


@pytest.fixture
def pane(sandbox, tmp_path: Path) -> Iterator[Callable[[list[str]], Pane]]:
    """Start ``drd ARGV`` in a 160x50 tmux pane with the sandbox's environment; the exit code is printed after."""
    paths = write_files(sandbox, tmp_path / "sb")
    environment = {
        "DRD_CONFIG": str(paths["config"]),
        "DRD_STATE": str(tmp_path / "drd.sqlite"),
        "KUBECONFIG": str(paths["kubeconfig"]),
        "DRD_RUNBOOKS": str(RUNBOOKS),
        "DRD_ACTOR": REQUESTER,
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "TERM": "xterm-256color",
    }
    socket = f"drd-test-{uuid.uuid4().hex[:8]}"
    started: list[Pane] = []

    def start(argv: list[str]) -> Pane:
        script = tmp_path / "run.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in environment.items())
        command = shlex.join([str(DRD), *argv])
        script.write_text(f"trap ':' INT\n{exports}{command}\necho \"EXIT=$?\"\nsleep 600\n")
        opened = Pane(socket)
        subprocess.run(
            ["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "restore", "-x", "160", "-y", "50",
             f"sh {shlex.quote(str(script))}"],
            check=True, timeout=10,
        )  # fmt: skip
        started.append(opened)
        return opened

    yield start
    if started:
        subprocess.run(["tmux", "-L", socket, "kill-server"], check=False, timeout=10)


def test_a_person_reads_the_plan_answers_y_and_sees_the_restore_verified(pane, sandbox, primary):
    """The screen shows the plan, the question, the progress line and the verified outcome; exit 0."""
    policy_backup(primary, "shop-1")
    sandbox.velero_faults.slowdown = 30.0  # a restore long enough for the progress line to be drawn
    screen = pane(["restore", "shop", "--as", "shop-copy"])
    shown = screen.wait_for("[y/N]")
    assert "Restore plan for shop" in shown
    assert "namespace   shop → shop-copy  [new namespace]" in shown
    assert restores(primary) == []
    screen.keys("y", "Enter")
    final = screen.wait_for("EXIT=")
    assert "EXIT=0" in final, final
    assert "? [y/N] y" in final
    assert "elapsed / RTO 2m00s" in final
    assert "/" in final.split("[", 1)[1]
    assert "RESTORED AND VERIFIED: shop into primary-east/shop-copy" in final
    assert "ok          workloadsReady-2" in final
    assert len(restores(primary)) == 1


def test_ctrl_c_during_the_restore_detaches_and_the_restore_goes_on(pane, sandbox, primary):
    """Ctrl-C while Velero restores: exit 130, the run's id and how to follow it; the Restore still completes."""
    policy_backup(primary, "shop-1")
    sandbox.velero_faults.slowdown = 200.0
    screen = pane(["restore", "shop", "--as", "shop-copy", "--yes"])
    screen.wait_for("restoring")
    eventually(lambda: restores(primary), timeout=SCREEN_SECONDS)
    screen.keys("C-c")
    final = screen.wait_for("EXIT=")
    assert "EXIT=130" in final, final
    assert "detached: restore " in final
    assert "follow it with `drd runbook show " in final
    sandbox.velero_faults.slowdown = 1.0
    (restore,) = restores(primary)
    name = restore["metadata"]["name"]

    def finished() -> bool:
        found = primary.find(VELERO_RESTORES, name, namespace="velero") or {}
        return (found.get("status") or {}).get("phase") == "Completed"

    eventually(finished, timeout=SCREEN_SECONDS)
    time.sleep(0)  # nothing else to wait for: the run is the daemon's (or `drd runbook resume`'s) now
