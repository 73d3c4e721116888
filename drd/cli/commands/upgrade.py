"""``drd upgrade plan``: canary-first Kubernetes upgrades (``run``, ``status``, ``resume`` come next)."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``upgrade`` command group."""
    group = commands.add_parser("upgrade", parents=parents, help="Kubernetes upgrades, canary first")
    sub = group.add_subparsers(title="upgrade commands", metavar="COMMAND")
    handlers = "drd.cli.commands.upgrade_handlers"
    plan = sub.add_parser(
        "plan",
        parents=parents,
        help="what an UpgradePlan would do, in order, with pre-flight findings (exit 1 if any blocks)",
        description="Read every cluster of the plan (nothing is changed) and print, per stage and cluster, "
        "the version hop, the pre-flight findings and the steps that would run.",
    )
    plan.add_argument("plan", metavar="PLAN", help="an UpgradePlan name")
    plan.set_defaults(handler=f"{handlers}:plan")
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)
