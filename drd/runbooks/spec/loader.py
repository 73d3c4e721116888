"""Loading runbooks: files and directories in, one :class:`RunbookSet` or one located :class:`PolicyError` out.

Each ``*.yaml``/``*.yml`` file holds one Runbook whose ``metadata.name`` is the
file's stem. Files are read with the policy reader (line numbers, duplicate
keys and aliases refused), expressions are compiled, the document is
validated, then linted; every problem of every file is collected before
:class:`~drd.errors.PolicyError` is raised, and nothing else is raised.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from drd.errors import PolicyError, Problem
from drd.policy import errors, yaml_loader
from drd.policy.catalog import Finding, Severity
from drd.policy.locations import Loc, SourceDocument
from drd.policy.models.base import API_VERSION
from drd.policy.names import short
from drd.runbooks.spec import lint
from drd.runbooks.spec.expressions import ExpressionError, compile_template
from drd.runbooks.spec.models import Runbook

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RunbookSet(Mapping[str, Runbook]):
    """Valid runbooks by name, the file each came from, and the warnings found."""

    runbooks: Mapping[str, Runbook]
    sources: Mapping[str, str]
    """Runbook name → the file that defines it."""
    warnings: tuple[Problem, ...] = ()

    def __getitem__(self, name: str) -> Runbook:
        return self.runbooks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.runbooks)

    def __len__(self) -> int:
        return len(self.runbooks)

    def __hash__(self) -> int:
        return hash(tuple(self.runbooks))


@dataclass
class _Run:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    runbooks: dict[str, Runbook] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def load_runbooks(paths: Sequence[str | Path]) -> RunbookSet:
    """Load every runbook under ``paths`` (files, or directories searched recursively)."""
    run = _Run()
    for path, display in _expand(paths, run):
        try:
            parsed = yaml_loader.read_file(path, display)
            _load_parsed(parsed, display, path.stem, run)
        except Exception as exc:  # the loader raises nothing but PolicyError
            run.problems.append(Problem(file=display, path="", message=f"internal error reading this file: {exc!r}"))
    if run.problems:
        raise PolicyError(sorted(run.problems, key=_order))
    return RunbookSet(dict(sorted(run.runbooks.items())), run.sources, tuple(sorted(run.warnings, key=_order)))


def load_runbook_text(text: str, *, name: str | None = None, display: str = "<runbook>") -> Runbook:
    """One runbook from YAML text (tests, stored snapshots); ``name``, when given, must match ``metadata.name``."""
    run = _Run()
    _load_parsed(yaml_loader.parse_text(text, display), display, name, run)
    if run.problems:
        raise PolicyError(sorted(run.problems, key=_order))
    if len(run.runbooks) != 1:
        raise PolicyError([Problem(file=display, path="", message="no runbook found")])
    (runbook,) = run.runbooks.values()
    return runbook


def _load_parsed(parsed: yaml_loader.ParsedFile, display: str, stem: str | None, run: _Run) -> None:
    run.problems += parsed.problems
    if len(parsed.documents) > 1:
        second = parsed.documents[1]
        run.problems.append(Problem(second.file, "", "one runbook per file: move this document to its own file",
                                    second.line_of(())))  # fmt: skip
    for source in parsed.documents[:1]:
        _load_document(source, stem, run)
    if not parsed.documents and not parsed.problems:
        run.problems.append(Problem(file=display, path="", message="empty file: a runbook file holds one Runbook"))


def _load_document(source: SourceDocument, stem: str | None, run: _Run) -> None:
    data = source.data
    if not isinstance(data, dict):
        run.problems.append(source.problem((), "a runbook must be a mapping with apiVersion, kind, metadata and spec"))
        return
    if data.get("apiVersion") != API_VERSION:
        found = f' (got "{short(str(data["apiVersion"]))}")' if "apiVersion" in data else ""
        run.problems.append(source.problem(("apiVersion",), f'must be "{API_VERSION}"{found}'))
        return
    if data.get("kind") != "Runbook":
        run.problems.append(source.problem(("kind",), 'must be "Runbook": a runbook file holds one Runbook'))
        return
    syntax = lint.check_syntax(data)
    run.problems += [source.problem(finding.path, finding.message) for finding in syntax]
    try:
        runbook = Runbook.model_validate(_without(data, syntax), by_alias=True, by_name=False)
    except ValidationError as exc:
        run.problems += _validation_problems(exc, source, [finding.path for finding in syntax])
        return
    problems = _identity(runbook, source, stem, run) + _findings(lint.lint(runbook), source, run)
    if not problems and not syntax:
        run.runbooks[runbook.name] = runbook
        run.sources[runbook.name] = source.file
    run.problems += problems


_PLACEHOLDER = "${{ null }}"


def _without(data: Any, syntax: list[Finding]) -> Any:
    """``data`` with every expression that does not compile replaced, so the rest can still be checked."""
    if not syntax:
        return data
    patched = copy.deepcopy(data)
    for finding in syntax:
        *parents, last = finding.path
        parent: Any = patched
        try:
            for part in parents:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            continue  # below a key removed earlier
        if isinstance(parent, dict):
            if isinstance(last, str) and _broken(last):
                parent.pop(last, None)  # the key itself is the broken expression
            else:
                parent[last] = _PLACEHOLDER
        elif isinstance(parent, list) and isinstance(last, int):
            parent[last] = _PLACEHOLDER
    return patched


def _broken(text: str) -> bool:
    try:
        compile_template(text)
    except ExpressionError:
        return True
    return False


def _validation_problems(exc: ValidationError, source: SourceDocument, syntax: list[Loc]) -> list[Problem]:
    """Pydantic's errors as problems, less expression errors already reported at a more precise path."""
    problems = []
    details_list = exc.errors(include_url=False)
    translated = errors.translate(exc, Runbook)
    inner = [loc for loc, _ in translated]
    for details, (loc, message) in zip(details_list, translated, strict=True):
        if details["type"] == "expression" and any(found[: len(loc)] == loc for found in syntax):
            continue
        inside = any(len(other) > len(loc) and other[: len(loc)] == loc for other in inner)
        if details["type"] == "too_short" and inside:
            continue  # an item that failed is not missing: its own problem says what is wrong
        if not source.is_reported(loc):
            problems.append(source.problem(loc, message))
    return problems


def _identity(runbook: Runbook, source: SourceDocument, stem: str | None, run: _Run) -> list[Problem]:
    if stem is not None and runbook.name != stem:
        message = f'must equal the file name without its suffix ("{short(stem)}"): runbooks are found by file name'
        return [source.problem(("metadata", "name"), message)]
    first = run.sources.get(runbook.name)
    if first is not None:
        return [source.problem(("metadata", "name"), f'runbook "{runbook.name}" is already defined in {first}')]
    return []


def _findings(findings: Iterable[Finding], source: SourceDocument, run: _Run) -> list[Problem]:
    problems: list[Problem] = []
    for finding in findings:
        problem = source.problem(finding.path, finding.message)
        (problems if finding.severity is Severity.ERROR else run.warnings).append(problem)
    return problems


def _expand(paths: Iterable[str | Path], run: _Run) -> list[tuple[Path, str]]:
    """``(path, display name)`` of every file to read, each once, in a stable order."""
    found: dict[Path, tuple[Path, str]] = {}
    for given in paths:
        path = Path(given)
        try:
            if path.is_dir():
                files = sorted(_walk(path))
                if not files:
                    run.warnings.append(Problem(file=str(given), path="", message="no *.yaml or *.yml files found"))
                for file in files:
                    found.setdefault(file.resolve(), (file, str(file)))
            elif path.is_file():
                found.setdefault(path.resolve(), (path, str(given)))
            else:
                run.problems.append(Problem(file=str(given), path="", message="no such file or directory"))
        except (OSError, RuntimeError) as exc:
            run.problems.append(Problem(file=str(given), path="", message=f"cannot read: {exc}"))
    return list(found.values())


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.endswith(SUFFIXES):
                yield Path(root) / name


def _order(problem: Problem) -> tuple[str, int, str]:
    return (problem.file, problem.line or 0, problem.path)
