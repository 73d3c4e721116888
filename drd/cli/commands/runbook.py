"""``drd runbook list|show|lint|run|resume|approve|reject|runs``: executable runbooks from the command line.

``run`` submits a run and executes it in this process until it finishes or
waits (an approval, a pause); ``approve``/``reject``/``resume`` record the human
decision and carry on executing. The daemon resumes interrupted runs by itself;
these commands work without it.
"""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``runbook`` command group."""
    group = commands.add_parser("runbook", parents=parents, help="executable runbooks: lint, plan, run, approve")
    sub = group.add_subparsers(title="runbook commands", metavar="COMMAND")

    def command(name: str, help_text: str, handler: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, parents=parents, help=help_text)
        parser.add_argument("--runbooks", metavar="DIR", help="runbooks directory (env DRD_RUNBOOKS)")
        parser.set_defaults(handler=f"drd.cli.commands.runbook_handlers:{handler}")
        return parser

    command("list", "the runbooks and what they are for", "list_runbooks")
    show = command("show", "a runbook (its parameters and steps) or a run (its steps, approvals, audit)", "show")
    show.add_argument("name", metavar="RUNBOOK|RUN")
    lint = command("lint", "validate runbooks; print every error and exit 2 if any", "lint")
    lint.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: --runbooks)")
    run = command("run", "run a runbook now (--dry-run: print the plan, change nothing)", "run")
    run.add_argument("name", metavar="RUNBOOK")
    _parameters(run)
    run.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
    run.add_argument("--detach", action="store_true", help="submit only; the daemon executes it")
    resume = command("resume", "resume a paused, interrupted or failed run", "resume")
    resume.add_argument("run_id", metavar="RUN")
    _parameters(resume, help_text="secret parameters again (they are never stored)")
    choice = resume.add_mutually_exclusive_group()
    choice.add_argument("--mark-succeeded", metavar="STEP", help="vouch that an interrupted step did happen")
    choice.add_argument("--skip", metavar="STEP", help="skip a step that must not run")
    resume.add_argument("--reason", default="", help="why (recorded in the audit trail)")
    cancel = command(
        "cancel", "stop a run that has not finished: undo what succeeded (--compensate), run finally", "cancel"
    )
    cancel.add_argument("run_id", metavar="RUN")
    cancel.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    cancel.add_argument("--compensate", action="store_true", help="run the compensations of the steps that succeeded")
    for verb in ("approve", "reject"):
        decide = command(verb, f"{verb} a run waiting at an approval step", verb)
        decide.add_argument("run_id", metavar="RUN")
        decide.add_argument("step", metavar="STEP")
        decide.add_argument("--comment", default="", required=verb == "reject", help="why (recorded)")
        decide.add_argument("--no-continue", action="store_true", help="record only; do not carry on executing")
    runs = command("runs", "recent runs, newest first", "runs")
    runs.add_argument("--runbook", metavar="NAME", help="only runs of this runbook")
    runs.add_argument("--limit", type=int, default=20)
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)


def _parameters(parser: argparse.ArgumentParser, *, help_text: str = "a parameter (repeatable)") -> None:
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", dest="params", help=help_text
    )
