"""``drd restore APP``: the on-demand incident restore — plan first, guard rails, live progress, verification."""

from __future__ import annotations

import argparse
from typing import Any

_EPILOG = """\
The plan comes first: the backup (age, phase, warnings), the target cluster and namespaces, what
happens to each object (create / skip / update / replace) and an estimate from past drills. Then
a confirmation: y/N, or typing the namespace name when it has live workloads (which also needs
--existing update or --replace). Ctrl-C during the restore detaches: the run goes on (the daemon
carries it on); follow it with `drd runbook show RUN`.

exit codes: 0 restored and verified; 1 refused, not confirmed, failed, or restored with problems
(PartiallyFailed, a failed check); 2 usage or configuration error; 130 detached (Ctrl-C)."""


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``restore`` command."""
    restore = commands.add_parser(
        "restore",
        parents=parents,
        help="restore an application now (incident): plan, confirm, restore, verify",
        description="Restore an application from a Velero backup, the plan shown first.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore.add_argument("application", metavar="APP", help="the application (its BackupPolicy name)")
    restore.add_argument("--to", metavar="CLUSTER", help="restore into this cluster (default: the application's own)")
    restore.add_argument("--as", dest="as_namespace", metavar="NAMESPACE", help="restore the namespace under this name")
    which = restore.add_mutually_exclusive_group()
    which.add_argument("--backup", metavar="NAME", help="this backup (default: the newest good one)")
    which.add_argument(
        "--before",
        metavar="TIME",
        help="the newest good backup taken before TIME (2026-03-01T03:00:00Z, '2026-03-01 03:00' UTC, or 90m ago)",
    )
    restore.add_argument(
        "--namespace", dest="namespaces", action="append", default=[], metavar="NS", help="only this namespace (repeat)"
    )
    restore.add_argument("--include-resources", nargs="+", default=[], metavar="RES", help="only these resources")
    restore.add_argument("--exclude-resources", nargs="+", default=[], metavar="RES", help="not these resources")
    restore.add_argument(
        "--existing", choices=("skip", "update"), default="skip", help="objects that exist: leave (skip) or update"
    )
    restore.add_argument(
        "--replace", action="store_true", help="delete the target namespace first: restore it exactly as backed up"
    )
    restore.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    restore.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    restore.add_argument(
        "--i-understand-live-namespace",
        dest="live_namespace_ok",
        action="store_true",
        help="with --yes: allow restoring into a namespace with live workloads",
    )
    restore.set_defaults(handler="drd.cli.commands.restore_handlers:restore")
