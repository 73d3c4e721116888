"""``drd daemon``: the long-running service."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``daemon`` command."""
    daemon = commands.add_parser(
        "daemon",
        parents=parents,
        help="run the service: backups from policies, metrics, health endpoints, leader election",
        description="Run until SIGTERM/SIGINT. SIGHUP reloads the configuration (so does any change to it). "
        "Serves /metrics, /healthz and /readyz on --listen.",
    )
    daemon.add_argument("--listen", metavar="[HOST]:PORT", help="address of the HTTP endpoints (env DRD_LISTEN)")
    daemon.set_defaults(handler="drd.cli.commands.daemon:run")


def run(ctx: CliContext, args: argparse.Namespace) -> int:
    """Start the daemon and serve until a termination signal."""
    import signal
    import threading
    from dataclasses import replace

    from drd import logs
    from drd.daemon.app import Daemon

    settings = ctx.settings
    if args.listen:
        settings = replace(settings, daemon=replace(settings.daemon, listen=args.listen))
    level = "DEBUG" if ctx.verbosity >= 2 else settings.log.level
    fmt: logs.LogFormat = (
        "json" if settings.log.format == "json" else "console" if settings.log.format == "console" else "auto"
    )
    logs.configure(level=level, fmt=fmt, stream=ctx.stderr)
    stop = threading.Event()
    daemon = Daemon(settings)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
    try:
        daemon.start()
        daemon.run(stop)
    finally:
        finished = daemon.shutdown()
    return ExitCode.OK if finished else ExitCode.FAILED
