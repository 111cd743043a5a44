"""What differs between the Pythons .ci/matrix runs on, and that the claims name exactly those.

The matrix runs this suite on the host's CPython (3.11), on CPython 3.13, 3.14 and 3.15 (Debian
testing) and on Pyodide's 3.13 and 3.14; docs/versions.md has its table.
"""

from __future__ import annotations

import re
import sys
import tomllib

import pytest

import autograd
from autograd import Value, _compiled, _deep_free
from tests.conftest import ROOT

HOST_PYTHON = "3.11"
"""The CPython of the machine CI runs on (Debian 12): the matrix's host rows, `./dev.sh test`."""


def matrix_pythons() -> list[str]:
    """The CPythons .ci/matrix runs besides the host's: its PYTHONS line."""
    match = re.search(r'^PYTHONS="([\d. ]+)"', (ROOT / ".ci" / "matrix").read_text(), re.M)
    assert match, ".ci/matrix has no PYTHONS line"
    return match.group(1).split()


def test_the_claimed_versions_are_the_ones_the_matrix_runs():
    tested = [HOST_PYTHON, *matrix_pythons()]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    classifiers = [c.rpartition(" :: ")[2] for c in project["project"]["classifiers"]
                   if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert classifiers == tested
    assert project["project"]["requires-python"] == f">={tested[0]}"
    ruff = project["tool"]["ruff"]["target-version"]
    assert ruff == "py" + tested[0].replace(".", "")
    listed = ", ".join(tested[:-1]) + " and " + tested[-1]
    assert f"CPython {listed}" in (ROOT / "docs" / "compiled-core.md").read_text()
    assert f"Python {tested[0]} or newer" in (ROOT / "README.md").read_text()
    assert f"CPython {listed}" in (ROOT / "docs" / "versions.md").read_text()


def test_sum_rounds_as_this_pythons_sum_on_both_engines():
    """Python's sum() of floats is plain addition before 3.12 and compensated (Neumaier) from
    3.12; the C core follows with two branches chosen at compile time. On [1e16, 1.0, -1e16]
    they differ (0.0 against 1.0), so each row of the matrix checks the branch its Python takes:
    the host's 3.11 the plain one, 3.13+ the compensated one."""
    data = [1e16, 1.0, -1e16]
    expected = 1.0 if sys.version_info >= (3, 12) else 0.0
    assert sum(data) == expected
    values = [Value(x) for x in data]  # the engine this run tests (both, across the matrix)
    assert autograd.sum(values).data == expected
    assert autograd.dot(values, [1.0, 1.0, 1.0]).data == expected
    assert autograd.dot(values, [1.0, 1.0, 1.0], bias=0.0).data == expected
    out = autograd.sum([v * 1.0 for v in values])
    out.backward()
    assert out.data == expected and [v.grad for v in values] == [1.0, 1.0, 1.0]


def test_the_iterative_free_leaves_a_shared_part_of_the_graph_intact():
    """autograd/_deep_free.py's __del__ (installed on Pyodide) unlinks only the parents nothing
    else holds. Here on a subclass, on every Python of the matrix: a node kept from the middle
    of a dropped chain still has its whole history, and backward through it is right."""

    class Node(_compiled.PythonValue):
        __slots__ = ()

    _deep_free.install(Node)
    first = x = Node(1.0)
    kept = None
    for i in range(20_000):
        node = Node(x.data * 1.0001)
        node._op, node._prev = autograd.ops.power(1.0), (x,)
        x = node
        if i == 9_999:
            kept = x
    del x, node
    depth, walk = 0, kept
    while walk.parents:
        depth, walk = depth + 1, walk.parents[0]
    assert depth == 10_000 and walk is first
    kept.backward()
    assert first.grad == 1.0


@pytest.mark.skipif(sys.platform != "emscripten", reason="only Pyodide gets the __del__")
def test_on_pyodide_a_chain_of_two_million_nodes_builds_backpropagates_and_frees():
    x = a = Value(1.0)
    for _ in range(1_000_000):
        x = x * 1.0 + 0.0
    x.backward()
    assert a.grad == 1.0
    del x  # without autograd/_deep_free.py: "RangeError: Maximum call stack size exceeded"
    assert "__del__" in vars(_compiled.PythonValue)
