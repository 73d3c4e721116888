"""Reading policy files safely: YAML to plain data with the line of every key, never anything but problems.

Built on PyYAML's ``SafeLoader`` (no Python tags), with stricter rules than
PyYAML's defaults, each reported as a located :class:`~drd.errors.Problem`:

* a file is at most :data:`MAX_FILE_BYTES` and must be UTF-8;
* a file holds at most :data:`MAX_DOCUMENTS` documents and :data:`MAX_NODES` values, nested at most
  :data:`MAX_DEPTH` deep, which bounds the time reading takes (about a second for the worst case);
* a key repeated in one mapping is an error (PyYAML silently keeps the last);
* aliases (``*name``) are refused outright. That rules out "billion laughs"
  expansion bombs and recursive structures, and keeps every value at one line
  of the file; anchors alone are harmless and allowed;
* mapping keys are taken as written (``on:`` is the key ``"on"``, not ``True``);
  a list or mapping as a key is refused;
* only the standard tags are accepted (no ``!custom``, ``!!set``, ``!!omap``).

Empty files and empty documents yield no documents. Reading never raises:
:func:`read_file` and :func:`parse_text` return the documents they could read
and the problems they found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from drd.errors import Problem
from drd.policy.locations import Loc, SourceDocument, document_path

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_DOCUMENTS = 1000
MAX_NODES = 50_000

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True)
class ParsedFile:
    """What one file yielded: its non-empty documents and the problems found reading it."""

    documents: tuple[SourceDocument, ...]
    problems: tuple[Problem, ...]


class _Refused(yaml.MarkedYAMLError):
    """A construct the policy reader does not accept (alias, excessive nesting)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases and deep nesting while composing, before anything is expanded."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _Refused(
                problem="YAML aliases (*name) are not supported: write the value out in full",
                problem_mark=self.get_mark(),
            )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(problem=f"more than {MAX_NODES} values in one file; split it", problem_mark=self.get_mark())
        if self._depth >= MAX_DEPTH:
            raise _Refused(problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=self.get_mark())
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass
class _Document:
    number: int
    data: Any
    lines: dict[Loc, int]
    reported: set[Loc] = field(default_factory=set)


@dataclass
class _Issue:
    number: int | None
    loc: Loc
    message: str
    line: int | None


class _Builder:
    """Turns composed nodes into plain data, recording lines and per-value problems."""

    def __init__(self, loader: _Loader) -> None:
        self._loader = loader
        self.documents: list[_Document] = []
        self.issues: list[_Issue] = []

    def add(self, node: Node) -> None:
        document = _Document(number=len(self.documents) + 1, data=None, lines={(): node.start_mark.line + 1})
        document.data = self._build(node, (), document)
        self.documents.append(document)

    def fail(self, message: str, line: int) -> None:
        self.issues.append(_Issue(None, (), message, line))

    def _report(self, document: _Document, loc: Loc, message: str, node: Node, *, replaced: bool = False) -> None:
        """Record a problem; ``replaced`` marks a value that was substituted, so later findings there are noise."""
        if replaced:
            document.reported.add(loc)
        self.issues.append(_Issue(document.number, loc, message, node.start_mark.line + 1))

    def _build(self, node: Node, loc: Loc, document: _Document) -> Any:
        if isinstance(node, ScalarNode):
            return self._scalar(node, loc, document)
        if isinstance(node, SequenceNode) and node.tag == _SEQ_TAG:
            items = []
            for index, child in enumerate(node.value):
                document.lines[(*loc, index)] = child.start_mark.line + 1
                items.append(self._build(child, (*loc, index), document))
            return items
        if isinstance(node, MappingNode) and node.tag == _MAP_TAG:
            return self._mapping(node, loc, document)
        self._report(
            document,
            loc,
            f"unsupported YAML tag {node.tag}: use plain mappings, lists and scalars",
            node,
            replaced=True,
        )
        return None

    def _mapping(self, node: MappingNode, loc: Loc, document: _Document) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._report(document, loc, "mapping keys must be plain strings, not lists or mappings", key_node)
                continue
            key = key_node.value
            if key in result:
                first = document.lines[(*loc, key)]
                self._report(
                    document,
                    (*loc, key),
                    f'duplicate key "{key}" (first on line {first}): a key may appear once per mapping',
                    key_node,
                )
                continue
            document.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = self._build(value_node, (*loc, key), document)
        return result

    def _scalar(self, node: ScalarNode, loc: Loc, document: _Document) -> Any:
        try:
            return self._loader.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else str(exc)
            self._report(document, loc, f"cannot read this value: {reason}", node, replaced=True)
            return node.value


def read_file(path: Path, display: str) -> ParsedFile:
    """Read and parse ``path``; ``display`` is how problems name the file."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return _failed(display, f"cannot read file: {exc.strerror or exc}")
    if len(raw) > MAX_FILE_BYTES:
        return _failed(display, f"file is larger than {MAX_FILE_BYTES // 1024} KiB; split it into several files")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _failed(display, f"file is not UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8", line)
    return parse_text(text, display)


def parse_text(text: str, display: str) -> ParsedFile:
    """Parse every document of ``text``; ``display`` is how problems name the file."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        return _failed(display, f"unacceptable character #x{exc.character:04x}: only printable text is allowed", line)
    builder = _Builder(loader)
    try:
        while loader.check_node():
            if len(builder.documents) == MAX_DOCUMENTS:
                builder.fail(f"more than {MAX_DOCUMENTS} documents in one file; split it", loader.get_mark().line + 1)
                break
            node = loader.get_node()
            if node is not None:
                builder.add(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        builder.fail(_syntax_message(exc), (mark or loader.get_mark()).line + 1)
    except yaml.YAMLError as exc:
        builder.fail(f"invalid YAML: {exc}", loader.get_mark().line + 1)
    finally:
        loader.dispose()
    return _result(display, builder)


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    if isinstance(exc, _Refused):
        return str(exc.problem)
    problem = exc.problem or "cannot parse"
    if "'\\t'" in problem:
        return "invalid YAML: a tab character; indent with spaces"
    context = f" ({exc.context})" if exc.context else ""
    return f"invalid YAML: {problem}{context}"


def _result(display: str, builder: _Builder) -> ParsedFile:
    present = [document for document in builder.documents if document.data is not None]
    multi = len(present) > 1
    documents = tuple(
        SourceDocument(
            file=display,
            number=document.number,
            multi=multi,
            data=document.data,
            lines=document.lines,
            reported=frozenset(document.reported),
        )
        for document in present
    )
    problems = tuple(
        Problem(
            file=display,
            path=document_path(issue.number, issue.loc, multi=multi) if issue.number is not None else "",
            message=issue.message,
            line=issue.line,
        )
        for issue in builder.issues
    )
    return ParsedFile(documents, problems)


def _failed(display: str, message: str, line: int | None = None) -> ParsedFile:
    return ParsedFile((), (Problem(file=display, path="", message=message, line=line),))
