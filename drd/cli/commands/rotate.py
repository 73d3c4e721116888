"""``drd rotate run|status``: secret rotation through Vault."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``rotate`` command group."""
    group = commands.add_parser("rotate", parents=parents, help="secret rotation through Vault")
    sub = group.add_subparsers(title="rotate commands", metavar="COMMAND")
    handlers = "drd.cli.commands.rotate_handlers"
    run = sub.add_parser(
        "run",
        parents=parents,
        help="rotate a RotationPolicy's credential now (exit 1 unless it succeeded)",
        description="Create the new credential (pending in Vault), deliver it, restart consumers, verify it, "
        "promote it with check-and-set, deactivate the old one and delete it after the grace period. A failure "
        "before promotion puts the old credential back. No value is ever printed.",
    )
    run.add_argument("policy", metavar="POLICY", help="a RotationPolicy name")
    run.add_argument("--detach", action="store_true", help="submit only; the daemon runs it")
    run.set_defaults(handler=f"{handlers}:run")
    status = sub.add_parser("status", parents=parents, help="each policy's last rotation, its result and the age")
    status.add_argument("policy", metavar="POLICY", nargs="?", help="one RotationPolicy (default: all)")
    status.set_defaults(handler=f"{handlers}:status")
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)
