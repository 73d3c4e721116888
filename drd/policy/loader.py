"""Loading a configuration: files and directories in, one validated :class:`Config` or one :class:`PolicyError` out.

Directories are searched recursively for ``*.yaml`` and ``*.yml``, skipping
hidden entries (``.git``, and the ``..data`` links of a mounted ConfigMap,
which would otherwise load every file twice). Each document is dispatched on
``kind`` through a :class:`~drd.policy.registry.Registry`, validated, and
then checked against the others. Every problem in every file is collected
before :class:`~drd.errors.PolicyError` is raised; anything unexpected is
turned into a problem naming the file, so loading raises nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from drd.errors import PolicyError, Problem
from drd.policy import errors, registry, yaml_loader
from drd.policy.catalog import Catalog, D, Severity, select
from drd.policy.frozen import FrozenMap
from drd.policy.locations import SourceDocument
from drd.policy.models.backup import BackupPolicy
from drd.policy.models.base import API_VERSION, Document
from drd.policy.models.cluster import Cluster
from drd.policy.models.drill import DrillPolicy
from drd.policy.names import short

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Config:
    """A valid configuration: every document by kind and name, where each came from, and the warnings."""

    documents: Mapping[str, Mapping[str, Document]]
    """Kind → name → document, for every registered kind."""
    sources: Mapping[tuple[str, str], str]
    """``(kind, name)`` → the file that defines it."""
    warnings: tuple[Problem, ...] = ()
    """Located findings that do not stop loading (a scope that selects nothing, a same-region drill, …)."""

    @cached_property
    def clusters(self) -> Mapping[str, Cluster]:
        """The inventory, by name."""
        return self.of_kind(Cluster)

    @cached_property
    def backup_policies(self) -> Mapping[str, BackupPolicy]:
        """Backup policies, by name."""
        return self.of_kind(BackupPolicy)

    @cached_property
    def drill_policies(self) -> Mapping[str, DrillPolicy]:
        """Drill policies, by name."""
        return self.of_kind(DrillPolicy)

    def of_kind(self, model: type[D]) -> Mapping[str, D]:
        """Documents of ``model``'s kind, by name (for kinds registered by other packages)."""
        return select(self.documents, model)

    def source_of(self, document: Document) -> str:
        """The file that defines ``document``."""
        return self.sources[(document.kind, document.name)]

    def source_cluster(self, policy: BackupPolicy) -> Cluster:
        """The cluster a backup policy backs up."""
        return self.clusters[policy.spec.cluster]

    def backup_policy_of(self, drill: DrillPolicy) -> BackupPolicy:
        """The backup policy whose backups a drill restores."""
        return self.backup_policies[drill.spec.backup_policy]

    def target_cluster(self, drill: DrillPolicy) -> Cluster:
        """The cluster a drill restores into."""
        return self.clusters[drill.spec.target]

    def drills_of(self, policy: BackupPolicy) -> tuple[DrillPolicy, ...]:
        """The drills that restore a backup policy's backups, by name."""
        return tuple(
            drill for _, drill in sorted(self.drill_policies.items()) if drill.spec.backup_policy == policy.name
        )


@dataclass
class _Loaded:
    """A document that validated, with where it came from."""

    source: SourceDocument
    spec: registry.KindSpec
    document: Document


@dataclass
class _Run:
    """The state of one load: problems and warnings found so far, documents that validated."""

    kinds: registry.Registry
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    loaded: list[_Loaded] = field(default_factory=list)
    declared: dict[tuple[str, str], SourceDocument] = field(default_factory=dict)
    invalid: set[tuple[str, str]] = field(default_factory=set)


def load_config(paths: Sequence[str | Path], *, kinds: registry.Registry | None = None) -> Config:
    """Load every document under ``paths`` (files, or directories searched recursively).

    Raises :class:`~drd.errors.PolicyError` carrying every problem of every
    file; returns the configuration, with warnings, when there is none.
    ``kinds`` defaults to :data:`drd.policy.registry.DEFAULT`.
    """
    run = _Run(kinds or registry.DEFAULT)
    for path, display in _expand(paths, run):
        try:
            _load_file(path, display, run)
        except Exception as exc:  # the loader raises nothing but PolicyError
            run.problems.append(Problem(file=display, path="", message=f"internal error reading this file: {exc!r}"))
    catalog = Catalog(_by_kind(run.loaded), frozenset(run.invalid))
    for loaded in run.loaded:
        _cross_check(loaded, catalog, run)
    if run.problems:
        raise PolicyError(sorted(run.problems, key=_order))
    return Config(
        documents=catalog.documents,
        sources=FrozenMap(((item.spec.kind, item.document.name), item.source.file) for item in run.loaded),
        warnings=tuple(sorted(run.warnings, key=_order)),
    )


def _expand(paths: Iterable[str | Path], run: _Run) -> list[tuple[Path, str]]:
    """``(path, display name)`` of every file to read, each once, in a stable order."""
    found: dict[Path, str] = {}
    for given in paths:
        try:
            for path, display in _files(Path(given), str(given), run):
                found.setdefault(path.resolve(), display)
        except (OSError, RuntimeError) as exc:  # unreadable directories, symlink loops
            run.problems.append(Problem(file=str(given), path="", message=f"cannot read: {exc}"))
    return list(found.items())


def _files(path: Path, display: str, run: _Run) -> list[tuple[Path, str]]:
    if path.is_dir():
        files = sorted(_walk(path, run))
        if not files:
            run.warnings.append(Problem(file=display, path="", message="no *.yaml or *.yml files found"))
        return [(file, str(file)) for file in files]
    if path.is_file():
        return [(path, display)]
    reason = "no such file or directory" if not path.exists() else "not a regular file or directory"
    run.problems.append(Problem(file=display, path="", message=reason))
    return []


def _walk(directory: Path, run: _Run) -> Iterable[Path]:
    def unreadable(exc: OSError) -> None:
        run.problems.append(Problem(file=str(exc.filename), path="", message=f"cannot read: {exc.strerror}"))

    for root, dirs, files in os.walk(directory, onerror=unreadable):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.endswith(SUFFIXES):
                yield Path(root) / name


def _load_file(path: Path, display: str, run: _Run) -> None:
    parsed = yaml_loader.read_file(path, display)
    run.problems += parsed.problems
    for source in parsed.documents:
        run.problems += _load_document(source, run)


def _load_document(source: SourceDocument, run: _Run) -> list[Problem]:
    data = source.data
    if not isinstance(data, dict):
        return [source.problem((), "a document must be a mapping with apiVersion, kind, metadata and spec")]
    if data.get("apiVersion") != API_VERSION:
        found = f' (got "{short(str(data["apiVersion"]))}")' if "apiVersion" in data else ""
        return [source.problem(("apiVersion",), f'must be "{API_VERSION}"{found}: drd reads only its own documents')]
    kind = data.get("kind")
    spec = run.kinds.get(kind) if isinstance(kind, str) else None
    if spec is None:
        return [source.problem(("kind",), _unknown_kind(kind, run.kinds))]
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    problems = _declare(spec.kind, name, source, run) if isinstance(name, str) else []
    try:
        document = spec.model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        if isinstance(name, str):
            run.invalid.add((spec.kind, name))
        translated = errors.translate(exc, spec.model)
        return problems + [source.problem(loc, message) for loc, message in translated if not source.is_reported(loc)]
    if not problems:
        run.loaded.append(_Loaded(source, spec, document))
    return problems


def _declare(kind: str, name: str, source: SourceDocument, run: _Run) -> list[Problem]:
    """Record that ``source`` defines ``kind``/``name``; a second definition is a problem naming the first."""
    first = run.declared.setdefault((kind, name), source)
    if first is source:
        return []
    where = f"{first.file}:{first.line_of(('metadata', 'name'))}"
    return [source.problem(("metadata", "name"), f'{kind} "{short(name)}" is already defined in {where}')]


def _unknown_kind(kind: object, kinds: registry.Registry) -> str:
    accepted = ", ".join(kinds.kinds)
    if not isinstance(kind, str):
        return f"missing or not a string; accepted kinds: {accepted}"
    hint = "; write one document per item, separated by ---" if kind.endswith("List") else ""
    return f'unknown kind "{short(kind)}"; accepted kinds: {accepted}{hint}'


def _cross_check(loaded: _Loaded, catalog: Catalog, run: _Run) -> None:
    try:
        findings = list(loaded.spec.check(loaded.document, catalog))
    except Exception as exc:  # the loader raises nothing but PolicyError
        run.problems.append(loaded.source.problem((), f"internal error checking this document: {exc!r}"))
        return
    for finding in findings:
        problem = loaded.source.problem(finding.path, finding.message)
        (run.problems if finding.severity is Severity.ERROR else run.warnings).append(problem)


def _by_kind(loaded: Iterable[_Loaded]) -> Mapping[str, Mapping[str, Document]]:
    kinds: dict[str, dict[str, Document]] = {}
    for item in loaded:
        kinds.setdefault(item.spec.kind, {})[item.document.name] = item.document
    return FrozenMap((kind, FrozenMap(documents)) for kind, documents in kinds.items())


def _order(problem: Problem) -> tuple[str, int, str]:
    return (problem.file, problem.line or 0, problem.path)
