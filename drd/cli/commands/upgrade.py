"""``drd upgrade plan|run|status|resume|skip``: canary-first Kubernetes upgrades."""

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

    run = sub.add_parser(
        "run",
        parents=parents,
        help="upgrade the plan's clusters stage by stage (exit 0 when done, 1 when halted or waiting)",
        description="Start or carry on an upgrade: each stage's clusters (at most its concurrency at once) go "
        "through pre-flight, a fresh backup, control plane, verify, add-ons, node groups and post-verify (and "
        "the canary drill on the canary stage), then the stage soaks and passes its gates before the next "
        "stage starts. Any failure halts the plan until `drd upgrade resume` or `skip`. Safe to run again: it "
        "carries on from the recorded runs.",
    )
    run.add_argument("plan", metavar="PLAN", help="an UpgradePlan name")
    run.add_argument(
        "--detach", action="store_true", help="start what may start and return; the daemon carries the upgrade on"
    )
    run.set_defaults(handler=f"{handlers}:run")

    status = sub.add_parser("status", parents=parents, help="where the upgrade stands, per stage and cluster")
    status.add_argument("plan", metavar="PLAN", help="an UpgradePlan name")
    status.set_defaults(handler=f"{handlers}:status")

    resume = sub.add_parser(
        "resume",
        parents=parents,
        help="retry what halted the plan (or approve its waiting gate), recorded, then carry on",
    )
    resume.add_argument("plan", metavar="PLAN", help="an UpgradePlan name")
    resume.add_argument("--cluster", metavar="CLUSTER", help="only this halted cluster")
    resume.add_argument("--comment", metavar="TEXT", help="recorded with the resume or the approval")
    resume.add_argument("--no-run", action="store_true", help="record the resume only; carry on later with run")
    resume.set_defaults(handler=f"{handlers}:resume")

    skip = sub.add_parser(
        "skip",
        parents=parents,
        help="leave one cluster on its version so later stages may go on (never a canary), recorded",
    )
    skip.add_argument("plan", metavar="PLAN", help="an UpgradePlan name")
    skip.add_argument("--cluster", required=True, metavar="CLUSTER", help="the cluster to leave as it is")
    skip.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded)")
    skip.set_defaults(handler=f"{handlers}:skip")
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)
