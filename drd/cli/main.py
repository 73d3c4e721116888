"""Entry point of ``drd``: global options, command registration, dispatch and exit codes.

Handlers are referenced as ``"module:function"`` strings and imported only
when their command runs, so ``drd --help`` pays for argparse and nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from drd import __version__
from drd.cli.commands import daemon, drill, policies, restore, rotate, runbook, sandbox, status, upgrade
from drd.cli.exit_codes import ExitCode

Handler = Callable[..., int]

_COMMAND_GROUPS = (daemon, status, drill, restore, upgrade, rotate, policies, runbook, sandbox)

_DESCRIPTION = """\
drd keeps Kubernetes clusters recoverable and proves it: it drives Velero backups
from declarative policies, restores them into a DR cluster on a schedule to prove
they work, and exports recovery objectives as Prometheus metrics.

exit codes: 0 success, 1 the operation failed, 2 usage or configuration error."""


def global_options() -> argparse.ArgumentParser:
    """Options accepted before or after any sub-command (design.md's CLI contract)."""
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = parent.add_argument_group("global options")
    group.add_argument("--config", metavar="DIR", help="inventory and policies directory (env DRD_CONFIG)")
    group.add_argument("--state", metavar="URL", help="SQLite path or PostgreSQL URL of the store (env DRD_STATE)")
    group.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig with one context per cluster")
    group.add_argument("-o", "--output", choices=("table", "json", "yaml"), help="output format (default: table)")
    group.add_argument("-v", "--verbose", action="count", help="more log output (-vv for debug)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The full parser; cheap to build (no command module imports anything heavy at top level)."""
    parents = [global_options()]
    parser = argparse.ArgumentParser(
        prog="drd",
        description=_DESCRIPTION,
        parents=parents,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drd {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in _COMMAND_GROUPS:
        group.register(commands, parents)
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one command and return its exit code."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors with exit code 2 itself
        return int(exc.code or 0)
    handler_ref = getattr(args, "handler", None)
    if handler_ref is None:
        parser.print_help(out)
        return ExitCode.USAGE
    return _dispatch(handler_ref, args, out, err)


def _dispatch(handler_ref: str, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from drd import logs
    from drd.cli.context import build_context
    from drd.errors import ConfigError, DrdError

    try:
        ctx = build_context(args, stdout=out, stderr=err)
        level = ("WARNING", "INFO", "DEBUG")[min(ctx.verbosity, 2)]
        logs.configure(level=level, fmt="console", stream=err)
        module_name, _, function_name = handler_ref.partition(":")
        handler: Handler = getattr(importlib.import_module(module_name), function_name)
        return int(handler(ctx, args))
    except ConfigError as exc:
        err.write(f"drd: {exc}\n")
        return ExitCode.USAGE
    except DrdError as exc:
        err.write(f"drd: {exc}\n")
        return ExitCode.FAILED
    except KeyboardInterrupt:
        err.write("drd: interrupted\n")
        return ExitCode.INTERRUPTED
