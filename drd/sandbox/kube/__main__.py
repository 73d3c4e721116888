"""Run one emulated cluster as a process: ``python -m drd.sandbox.kube --port 0 [--velero]``.

Prints the URL on stdout once it is serving (a parent process waits for that
line), then serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from drd.sandbox.kube.emulator import KubeEmulator


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve, return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m drd.sandbox.kube", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--git-version", default="v1.31.4", help="version reported by /version (default: %(default)s)")
    parser.add_argument("--velero", action="store_true", help="install Velero's CRDs at start-up")
    parser.add_argument("--kubeconfig", help="also write a kubeconfig for the emulator to this path")
    args = parser.parse_args(argv)

    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with KubeEmulator(host=args.host, port=args.port, git_version=args.git_version, velero=args.velero) as emulator:
        if args.kubeconfig:
            emulator.write_kubeconfig(args.kubeconfig)
        sys.stdout.write(emulator.url + "\n")
        sys.stdout.flush()
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
