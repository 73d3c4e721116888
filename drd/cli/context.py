"""What every command handler receives: effective settings, output format and streams."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from drd.settings import Settings


@dataclass(frozen=True)
class CliContext:
    """Settings after env and flags are merged, plus where and how to print."""

    settings: Settings
    output: str = "table"
    verbosity: int = 0
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def render(self, document: Any) -> None:
        """Print a structured result in JSON or YAML (callers handle ``table`` themselves)."""
        from drd.cli import output

        output.render_document(document, "yaml" if self.output == "yaml" else "json", self.stdout)


def build_context(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO) -> CliContext:
    """Merge ``DRD_*`` environment and global flags (flags win) into a context."""
    settings = Settings.from_env()
    if config := getattr(args, "config", None):
        settings = replace(settings, config=replace(settings.config, directory=config))
    if state := getattr(args, "state", None):
        settings = replace(settings, store=replace(settings.store, url=state))
    if kubeconfig := getattr(args, "kubeconfig", None):
        settings = replace(settings, kube=replace(settings.kube, kubeconfig=kubeconfig))
    return CliContext(
        settings=settings,
        output=getattr(args, "output", None) or "table",
        verbosity=getattr(args, "verbose", 0) or 0,
        stdout=stdout,
        stderr=stderr,
    )
