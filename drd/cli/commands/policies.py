"""``drd policies validate|schema``: check documents before they reach the daemon."""

from __future__ import annotations

import argparse
from typing import Any

from drd.cli.commands import group_help
from drd.cli.context import CliContext
from drd.cli.exit_codes import ExitCode


def register(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``policies`` command group."""
    group = commands.add_parser("policies", help="validate policy documents, print their JSON Schema", parents=parents)
    sub = group.add_subparsers(title="policies commands", metavar="COMMAND")
    validate_cmd = sub.add_parser(
        "validate",
        help="validate the inventory and policies; print every error and exit 2 if any",
        parents=parents,
        description="Validate documents. Without PATH, the --config directory (env DRD_CONFIG) is used.",
    )
    validate_cmd.add_argument("paths", nargs="*", metavar="PATH", help="files or directories of YAML documents")
    validate_cmd.set_defaults(handler="drd.cli.commands.policies:validate")
    schema_cmd = sub.add_parser("schema", help="print the JSON Schema of every document kind", parents=parents)
    schema_cmd.set_defaults(handler="drd.cli.commands.policies:schema")
    group.set_defaults(handler=group_help.HANDLER, group_parser=group)


def validate(ctx: CliContext, args: argparse.Namespace) -> int:
    """Load and validate; problems go to stdout as ``file:line: path: message`` lines."""
    from drd.cli import output
    from drd.errors import PolicyError
    from drd.policy.loader import load_config

    paths = list(args.paths) or [ctx.settings.config.directory]
    try:
        config = load_config(paths)
    except PolicyError as exc:
        output.render_problems(ctx, exc.problems, paths, as_json=_problem_dict)
        return ExitCode.USAGE
    summary = {
        "clusters": len(config.clusters),
        "backupPolicies": len(config.backup_policies),
        "drillPolicies": len(config.drill_policies),
        "upgradePlans": len(config.documents.get("UpgradePlan", {})),
        "rotationPolicies": len(config.documents.get("RotationPolicy", {})),
    }
    if ctx.output == "table":
        for warning in config.warnings:
            ctx.stdout.write(f"warning: {warning}\n")
        counts = ", ".join(f"{n} {k}" for k, n in summary.items())
        ctx.stdout.write(f"{', '.join(paths)}: valid ({counts})\n")
    else:
        ctx.render({"valid": True, **summary, "warnings": [_problem_dict(w) for w in config.warnings]})
    return ExitCode.OK


def schema(ctx: CliContext, args: argparse.Namespace) -> int:
    """Print the JSON Schema (always JSON unless ``-o yaml``)."""
    from drd.policy.schema import json_schema

    ctx.render(json_schema())
    return ExitCode.OK


def _problem_dict(problem: Any) -> dict[str, Any]:
    return {"file": problem.file, "line": problem.line, "path": problem.path, "message": problem.message}
