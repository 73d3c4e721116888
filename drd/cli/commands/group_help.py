"""The handler of a command group called without a sub-command: print the group's help, exit 2."""

from __future__ import annotations

import argparse

from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode

HANDLER = "drd.cli.commands.group_help:usage"


def usage(ctx: CliContext, args: argparse.Namespace) -> int:
    """``drd GROUP`` alone."""
    args.group_parser.print_help(ctx.stdout)
    return ExitCode.USAGE
