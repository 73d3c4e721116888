"""Fuzzing the loader: whatever a file holds, loading raises only PolicyError, every problem is located, and each
example finishes within the deadline.

Inputs: arbitrary text and bytes, YAML-flavoured token soup, random nested data dumped as YAML, valid documents with
random values spliced in or unknown fields added, mappings with repeated keys, and alias bombs.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from drd.errors import PolicyError
from drd.policy.loader import load_config

from .builders import a_backup_policy, a_cluster, a_drill_policy, an_inventory, write

FUZZ = settings(max_examples=60, deadline=timedelta(seconds=2))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the inventory; each example overwrites ``fuzz.yaml`` beside it."""
    directory = tmp_path_factory.mktemp("fuzz")
    write(directory, "clusters.yaml", *an_inventory())
    return directory


def outcome(directory: Path, content: str | bytes) -> PolicyError | None:
    """Load ``directory`` with ``content`` as ``fuzz.yaml``; the PolicyError raised, if any, its problems checked."""
    path = directory / "fuzz.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        load_config([directory])
    except PolicyError as exc:
        for problem in exc.problems:
            assert problem.file, problem
            assert problem.path or problem.line, problem
        return exc
    return None


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**60),
    st.floats(),
    st.text(max_size=30),
    st.text(min_size=1000, max_size=5000),
    st.sampled_from(["30m", "@daily", "0 3 * * *", "dr-west", "primary-east", "http", "In", "yes", "~", ""]),
)
KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["apiVersion", "kind", "metadata", "name", "spec", "verify", "type", "schedule", "target"]),
)
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
TOKENS = st.sampled_from([
    "a:", "b: 1", " ", "  ", "\n", "- ", "[", "]", "{", "}", ",", "&x ", "*x", "!!str ", "!!python/name:os ",
    "!t ", "---\n", "...\n", '"', "'", "#", "? ", ": ", "yes", "1e999", "0x1F", "~", "\t", "|\n", ">-\n",
    "kind: Cluster\n", "apiVersion: drd.dev/v1\n", "<<: ", "%YAML 1.1\n", "\\u0000", "\ufeff",
])  # fmt: skip
VALID = [a_cluster("dr-south", region="sa-east-1"), a_backup_policy(), a_drill_policy()]


@FUZZ
@given(text=st.text())
def test_arbitrary_text(scratch: Path, text: str) -> None:
    """Any text at all."""
    outcome(scratch, text)


@FUZZ
@given(content=st.binary())
def test_arbitrary_bytes(scratch: Path, content: bytes) -> None:
    """Any bytes at all, most of them not UTF-8."""
    outcome(scratch, content)


@FUZZ
@given(tokens=st.lists(TOKENS, max_size=60))
def test_yaml_token_soup(scratch: Path, tokens: list[str]) -> None:
    """Fragments of YAML syntax in any order: flow, block, anchors, aliases, tags, directives."""
    outcome(scratch, "".join(tokens))


@FUZZ
@given(documents=st.lists(NESTED, min_size=1, max_size=3))
def test_random_structures(scratch: Path, documents: list[Any]) -> None:
    """Random nested data with wrong types, huge numbers and long strings, one YAML document each."""
    outcome(scratch, yaml.safe_dump_all(documents))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_valid_documents_with_random_values(scratch: Path, data: st.DataObject) -> None:
    """A valid document with one value replaced, or one unknown field added, anywhere in it."""
    document = copy.deepcopy(data.draw(st.sampled_from(VALID)))
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        parent[data.draw(KEYS)] = data.draw(NESTED)
    else:
        parent[path[-1]] = data.draw(NESTED)
    outcome(scratch, yaml.safe_dump(document))


@FUZZ
@given(entries=st.lists(st.tuples(st.sampled_from(["kind", "spec", "name", "a"]), st.integers(0, 9)), min_size=2))
def test_repeated_keys(scratch: Path, entries: list[tuple[str, int]]) -> None:
    """Whenever a key repeats in a mapping, loading fails and says so."""
    error = outcome(scratch, "".join(f"{key}: {value}\n" for key, value in entries))
    keys = [key for key, _ in entries]
    if len(set(keys)) < len(keys):
        assert error is not None
        assert any("duplicate key" in problem.message for problem in error.problems)


@FUZZ
@given(depth=st.integers(1, 30), width=st.integers(2, 30))
def test_alias_bombs(scratch: Path, depth: int, width: int) -> None:
    """Billion-laughs documents of any size fail at the first alias, without expanding."""
    lines = ['l0: &l0 "lol"'] + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    error = outcome(scratch, "\n".join(lines) + "\n")
    assert error is not None
    assert any("aliases" in problem.message for problem in error.problems)
