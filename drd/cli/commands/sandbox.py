"""``drd sandbox up|demo``: the simulated multi-cluster environment."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``sandbox`` command group."""
    group = commands.add_parser(
        "sandbox", help="simulated clusters, Velero, S3 and Vault for trying drd and for tests", parents=parents
    )
    sub = group.add_subparsers(title="sandbox commands", metavar="COMMAND")
    up = sub.add_parser(
        "up",
        parents=parents,
        help="start the sandbox and keep it running until Ctrl-C / SIGTERM",
        description="Start primary-east (us-east-1), dr-west (us-west-2) and canary-east, each with Velero; "
        "write DIR/env, DIR/kubeconfig and DIR/config/; run until interrupted.",
    )
    up.add_argument("--dir", required=True, metavar="DIR", help="where to write env, kubeconfig and config/")
    up.set_defaults(handler="drd.cli.commands.sandbox:up")
    demo = sub.add_parser(
        "demo",
        parents=parents,
        help="start the sandbox and narrate a backup and cross-region restore round trip",
    )
    demo.add_argument("--dir", metavar="DIR", help="also write env, kubeconfig and config/ here")
    demo.set_defaults(handler="drd.cli.commands.sandbox:demo")
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)


def up(ctx: CliContext, args: argparse.Namespace) -> int:
    """Run the sandbox in the foreground."""
    import signal
    import threading
    from pathlib import Path

    from drd.sandbox.environment import Sandbox
    from drd.sandbox.files import write_files

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Sandbox() as sandbox:
        paths = write_files(sandbox, Path(args.dir).resolve())
        for cluster in sandbox.clusters.values():
            ctx.stdout.write(f"{cluster.name:<13} {cluster.spec.region:<10} {cluster.spec.role:<8} {cluster.url}\n")
        ctx.stdout.write(f"S3            {sandbox.moto.url}\n")
        if sandbox.vault is not None:
            ctx.stdout.write(f"Vault         {sandbox.vault.url}\n")
        ctx.stdout.write(f"\nsandbox ready: in another shell, run `source {paths['env']}`\n")
        ctx.stdout.flush()
        try:
            stop.wait()
        except KeyboardInterrupt:
            ctx.stdout.write("\nstopping the sandbox\n")
    return ExitCode.OK


def demo(ctx: CliContext, args: argparse.Namespace) -> int:
    """Narrated round trip."""
    from pathlib import Path

    from drd.cli.demo import run_demo

    directory = Path(args.dir).resolve() if args.dir else None
    return run_demo(ctx.stdout, directory=directory)
