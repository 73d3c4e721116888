"""One leader elector in a process of its own, for multi-process tests.

    python tests/daemon/leader_worker.py URL IDENTITY [--namespace drd] [--lease-name drd-leader]
                                         [--lease 2] [--renew 1.2] [--retry 0.2]

Prints one line per transition on stdout, flushed at once, each ending with the Unix time:
``CAMPAIGNING <identity> <t>``, ``LEADING <identity> <t>``, ``STOPPED <identity> <t>``,
``OBSERVED <leader> <identity> <t>`` and ``EXITED <identity> <t>``. SIGTERM or SIGINT stops it
gracefully (stop acting, release the lease, exit 0); SIGKILL is a crash.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from types import FrameType

from drd import logs
from drd.clients.kube import KubeClient
from drd.clock import SystemClock
from drd.daemon.leader import LeaderElector


def say(*words: str) -> None:
    print(*words, f"{time.time():.6f}", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("identity")
    parser.add_argument("--namespace", default="drd")
    parser.add_argument("--lease-name", default="drd-leader")
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--renew", type=float, default=1.2)
    parser.add_argument("--retry", type=float, default=0.2)
    args = parser.parse_args(argv)
    logs.configure(level="WARNING", fmt="json")

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    kube = KubeClient.from_api_url(args.url, cluster="worker", timeout_seconds=max(args.retry, 0.5))
    elector = LeaderElector(
        kube,
        lease_name=args.lease_name,
        namespace=args.namespace,
        identity=args.identity,
        lease_duration=args.lease,
        renew_deadline=args.renew,
        retry_period=args.retry,
        clock=SystemClock(),
        on_started_leading=lambda: say("LEADING", args.identity),
        on_stopped_leading=lambda: say("STOPPED", args.identity),
        on_new_leader=lambda leader: say("OBSERVED", leader, args.identity),
    )
    say("CAMPAIGNING", args.identity)
    try:
        elector.run(stop)
    finally:
        kube.close()
        say("EXITED", args.identity)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
