"""Smoke tests: every benchmark runs at a tiny size, so the suite keeps working as the engine moves.

The figures themselves come from ``./dev.sh bench``; these only check that each workload runs,
that the engines agree with each other, and that the runner prints its table.
"""

from __future__ import annotations

import doctest
import importlib
import math

import pytest

from benchmarks import run, worker

ENGINE_PACKAGES = {"micrograd": "micrograd", "micrograd-mgstyle": "micrograd", "torch": "torch"}


def need(engine: str) -> None:
    """Skip when the engine's optional package (or chainrule's nn MLP) is missing."""
    if engine in ENGINE_PACKAGES:
        pytest.importorskip(ENGINE_PACKAGES[engine])
    if engine == "chainrule-nn" and run.missing(engine):
        pytest.skip(run.missing(engine))


@pytest.mark.parametrize("module", ["data", "mlp", "gpt", "engines", "worker", "profiling",
                                    "run", "reference.value"])
def test_doctests(module: str) -> None:
    results = doctest.testmod(importlib.import_module(f"benchmarks.{module}"))
    assert results.failed == 0


@pytest.mark.parametrize("engine", [*run.B1_ENGINES, "micrograd-mgstyle"])
def test_b1_engines_agree_on_the_loss(engine: str) -> None:
    need(engine)
    result = worker.measure("b1", engine, steps=2, points=4)
    expected = worker.measure("b1", "chainrule-mgstyle", steps=2, points=4)["loss"]
    assert len(result["times"]) == 2
    assert math.isclose(result["loss"], expected, rel_tol=1e-9)


def test_b2_engines_agree_on_loss_and_gradients() -> None:
    check = worker.check_b2(n_embd=4, block_size=3)
    assert check["same"], check


@pytest.mark.parametrize("engine", ["chainrule", "reference"])
def test_b2_runs(engine: str) -> None:
    result = worker.measure("b2", engine, steps=1, n_embd=4, block_size=2)
    assert result["loss"] > 0


def test_b3_chain() -> None:
    result = worker.measure("b3", "chainrule", n=2000)
    assert result["nodes"] == 4000 and result["backward"] > 0
    x, dx_da = 1.0, 0.0  # forward-mode by hand: d(x*a + b)/da = x + a * dx/da
    for _ in range(2000):
        x, dx_da = x * 0.999999 + 1e-6, x + 0.999999 * dx_da
    assert math.isclose(result["grad_a"], dx_da, rel_tol=1e-9)


def test_b3_textbook_value_hits_the_recursion_limit() -> None:
    assert "RecursionError" in worker.measure("b3", "reference", n=1000)["error"]


@pytest.mark.parametrize("engine", ["chainrule-mgstyle", "chainrule-nn", "micrograd"])
def test_b4_memory(engine: str) -> None:
    need(engine)
    result = worker.measure("b4", engine, points=4)
    assert 0 < result["bytes_per_node_forward"] <= result["bytes_per_node_backward"]
    assert result["peak"] >= result["after_backward"]


def test_b4_chain_memory() -> None:
    result = worker.measure("b4-chain", "chainrule", n=1000)
    assert result["op_nodes"] == 2000 and result["bytes_per_node_forward"] > 0


def test_runner_prints_the_targets_table() -> None:
    report = run.main(["--quick", "--b1-engines", "chainrule-mgstyle,chainrule-nn"])
    for row in ("B1 micrograd-style", "B2 chainrule", "B3 depth", "B4 bytes"):
        assert f"| {row}" in report
    assert "failed" not in report
