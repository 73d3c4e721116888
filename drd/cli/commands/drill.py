"""``drd drill run|list|show|report``: restore drills on demand, and their evidence."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``drill`` command group."""
    group = commands.add_parser("drill", parents=parents, help="cross-region restore drills: run one, read evidence")
    sub = group.add_subparsers(title="drill commands", metavar="COMMAND")
    handlers = "drd.cli.commands.drill_handlers"
    run = sub.add_parser("run", parents=parents, help="run one drill of a DrillPolicy now (exit 1 unless it passed)")
    run.add_argument("policy", metavar="POLICY", help="a DrillPolicy name")
    run.add_argument("--detach", action="store_true", help="submit only; the daemon runs it")
    run.set_defaults(handler=f"{handlers}:run")
    listing = sub.add_parser("list", parents=parents, help="recent drills, newest first")
    listing.add_argument("--policy", metavar="POLICY", help="only drills of this policy")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=f"{handlers}:list_drills")
    show = sub.add_parser("show", parents=parents, help="one drill's evidence")
    show.add_argument("run_id", metavar="RUN")
    show.set_defaults(handler=f"{handlers}:show")
    report = sub.add_parser("report", parents=parents, help="write a drill's evidence as a self-contained HTML page")
    report.add_argument("run_id", metavar="RUN")
    report.add_argument("--html", required=True, metavar="FILE", help="where to write the page")
    report.set_defaults(handler=f"{handlers}:report")
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)
