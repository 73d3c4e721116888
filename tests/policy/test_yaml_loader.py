"""Reading policy files: plain data with lines, and every unsafe or ambiguous construct refused with a located problem.

Covers: lines of keys and list items, duplicate keys, aliases (expansion bombs,
recursion), nesting depth, value and document counts, file size, encoding,
empty files and documents, keys taken as written, tags, syntax errors.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from drd.errors import Problem
from drd.policy.yaml_loader import (
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_FILE_BYTES,
    MAX_NODES,
    ParsedFile,
    parse_text,
    read_file,
)


def parse(text: str) -> ParsedFile:
    """``text`` (dedented) parsed as the file ``p.yaml``."""
    return parse_text(textwrap.dedent(text).lstrip("\n"), "p.yaml")


def only_problem(parsed: ParsedFile) -> Problem:
    """The single problem of ``parsed``."""
    assert len(parsed.problems) == 1, parsed.problems
    return parsed.problems[0]


def test_records_the_line_of_every_key_and_list_item() -> None:
    """Each mapping key and list item knows its line, so later errors can point at it."""
    parsed = parse("""
        # a comment
        spec:
          verify:
            - type: http
              port: 80
            - type: tcp
        """)
    (document,) = parsed.documents
    assert document.lines[("spec",)] == 2
    assert document.lines[("spec", "verify", 1)] == 6
    assert document.lines[("spec", "verify", 0, "port")] == 5
    assert document.line_of(("spec", "verify", 0, "missing")) == 4


def test_a_duplicate_key_is_an_error_at_its_second_line() -> None:
    """PyYAML would keep the last value silently; here the repeat is a problem naming both lines."""
    parsed = parse("""
        spec:
          target: dr-west
          schedule: "@daily"
          target: primary-east
        """)
    assert only_problem(parsed) == Problem(
        "p.yaml", "spec.target", 'duplicate key "target" (first on line 2): a key may appear once per mapping', 4
    )
    assert parsed.documents[0].data["spec"]["target"] == "dr-west"


def test_aliases_are_refused_before_anything_expands() -> None:
    """A billion-laughs document fails at its first alias instead of expanding."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    problem = only_problem(parse_text("\n".join(lines), "p.yaml"))
    assert (problem.line, problem.message) == (2, "YAML aliases (*name) are not supported: write the value out in full")


def test_a_recursive_alias_is_refused() -> None:
    """A structure that contains itself cannot be built."""
    assert "aliases" in only_problem(parse("a: &a [*a]\n")).message


def test_an_anchor_without_alias_is_harmless() -> None:
    """Anchors alone change nothing and are accepted."""
    parsed = parse("a: &x 1\n")
    assert (parsed.problems, parsed.documents[0].data) == ((), {"a": 1})


def test_deep_nesting_is_refused() -> None:
    """Nesting is bounded, so neither the reader nor validation can exhaust the stack."""
    problem = only_problem(parse_text("[" * 100_000, "p.yaml"))
    assert problem.message == f"nested more than {MAX_DEPTH} levels deep"


def test_too_many_values_are_refused() -> None:
    """The number of values per file is bounded, which bounds the time reading takes."""
    problem = only_problem(parse_text("[" + "1," * (MAX_NODES + 1) + "]", "p.yaml"))
    assert problem.message == f"more than {MAX_NODES} values in one file; split it"


def test_too_many_documents_are_refused() -> None:
    """A file of countless tiny documents stops at the limit."""
    parsed = parse_text("a: 1\n---\n" * (MAX_DOCUMENTS + 1), "p.yaml")
    assert only_problem(parsed).message == f"more than {MAX_DOCUMENTS} documents in one file; split it"
    assert len(parsed.documents) == MAX_DOCUMENTS


def test_a_file_over_one_mebibyte_is_not_read(tmp_path: Path) -> None:
    """Size is checked before parsing."""
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    problem = only_problem(read_file(path, "big.yaml"))
    assert (problem.file, problem.message) == ("big.yaml", "file is larger than 1024 KiB; split it into several files")


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    """Latin-1 text is refused with the line of the first bad byte."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nb: caf\xe9\n".encode("latin-1"))
    problem = only_problem(read_file(path, "latin1.yaml"))
    assert (problem.line, problem.message) == (2, "file is not UTF-8 (byte 0xe9); save it as UTF-8")


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    """Editors that write a UTF-8 BOM produce valid files."""
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffa: 1\n".encode())
    assert read_file(path, "bom.yaml").documents[0].data == {"a": 1}


def test_empty_files_and_documents_yield_nothing() -> None:
    """Empty text, comments and empty ``---`` sections are zero documents, not errors."""
    for text in ("", "# nothing here\n", "---\n---\n"):
        assert parse_text(text, "p.yaml") == ParsedFile((), ())


def test_documents_keep_their_position_in_the_file() -> None:
    """Numbering counts every section, so "document 3" is the third even after an empty one."""
    parsed = parse_text("a: 1\n---\n---\nb: 2\n", "p.yaml")
    assert [(document.number, document.multi) for document in parsed.documents] == [(1, True), (3, True)]


def test_keys_are_taken_as_written() -> None:
    """``on`` and ``1`` as keys stay strings; YAML 1.1 would make them True and 1."""
    assert parse("on: yes\n1: x\n").documents[0].data == {"on": True, "1": "x"}


def test_a_list_as_a_key_is_refused() -> None:
    """Complex keys cannot name fields."""
    problem = only_problem(parse("? [a, b]\n: 1\n"))
    assert problem.message == "mapping keys must be plain strings, not lists or mappings"


def test_python_and_custom_tags_are_refused() -> None:
    """Only standard YAML is read; tags never construct objects."""
    parsed = parse("""
        a: !!python/object/apply:os.system ["true"]
        b: !Ref other
        c: !!set {x, y}
        """)
    assert [problem.path for problem in parsed.problems] == ["a", "b", "c"]
    assert "unsupported YAML tag tag:yaml.org,2002:set" in parsed.problems[2].message


def test_a_huge_integer_is_a_problem_not_a_crash() -> None:
    """Python refuses to convert very long digit strings; that becomes a located problem."""
    problem = only_problem(parse_text("a: " + "9" * 5000 + "\n", "p.yaml"))
    assert (problem.path, problem.line) == ("a", 1)
    assert problem.message.startswith("cannot read this value:")


def test_a_syntax_error_names_its_line() -> None:
    """Broken YAML reports where the parser stopped."""
    problem = only_problem(parse("a: 1\nb: c: d\n"))
    assert (problem.line, problem.message) == (2, "invalid YAML: mapping values are not allowed here")


def test_a_tab_in_indentation_says_so() -> None:
    """The common tab mistake gets a plain message."""
    problem = only_problem(parse_text("a:\n\tb: 1\n", "p.yaml"))
    assert (problem.line, problem.message) == (2, "invalid YAML: a tab character; indent with spaces")


def test_control_characters_are_refused() -> None:
    """Non-printable characters are refused with their line."""
    problem = only_problem(parse_text("a: 1\nb: \x07\n", "p.yaml"))
    assert (problem.line, problem.message) == (2, "unacceptable character #x0007: only printable text is allowed")
