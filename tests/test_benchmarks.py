"""Smoke tests: every benchmark runs at a tiny size, so the suite keeps working as the engine moves.

The figures themselves come from ``./dev.sh bench``; these check that every engine of the
registry runs every workload it claims, that the engines compute the same losses, and that the
runner prints its table, with a baseline revision too.
"""

from __future__ import annotations

import doctest
import importlib
import math

import pytest

from benchmarks import data, gpt, gpt_training, mlp, report, run, steps, worker
from benchmarks.engines import REGISTRY, runnable
from benchmarks.worker import Job

PAIRS = [(engine, workload) for engine in REGISTRY.values()
         for workload in sorted(engine.workloads)]


def chain_gradient(n: int) -> float:
    """d x / d a of the chain ``x = x*a + b`` (n steps), in forward mode by hand."""
    x, dx_da = 1.0, 0.0  # d(x*a + b)/da = x + a * dx/da
    for _ in range(n):
        x, dx_da = x * 0.999999 + 1e-6, x + 0.999999 * dx_da
    return dx_da


def need(engine: str) -> None:
    """Skip when the engine's optional package is missing."""
    why = REGISTRY[engine].missing()
    if why:
        pytest.skip(why)


@pytest.mark.parametrize("module", ["data", "mlp", "numpy_mlp", "gpt", "gpt_training", "engines",
                                    "steps", "worker", "profiling", "run", "report",
                                    "reference.microgpt"])
def test_doctests(module: str) -> None:
    results = doctest.testmod(importlib.import_module(f"benchmarks.{module}"))
    assert results.failed == 0


@pytest.mark.parametrize(("engine", "workload"), PAIRS,
                         ids=[f"{e.name}-{w}" for e, w in PAIRS])
def test_every_engine_runs_its_workloads(engine, workload: str) -> None:
    need(engine.name)
    if workload == "chain":
        x, a, _ = steps.chain(engine.value_class(), 10)
        x.backward()
        assert math.isclose(a.grad, chain_gradient(10), rel_tol=1e-12)
        return
    if workload == "gpt":
        result = gpt_training.train(steps=2, compile=engine.replay, held_out=10)
        assert len(result["times"]) == 2 and result["held_out_loss"] > 0
        assert result["recordings"] == (2 if engine.replay else 0)
        return
    loss = steps.make(workload, engine, points=4)(0)
    assert math.isfinite(loss) and loss > 0


def test_an_engine_refuses_a_workload_it_does_not_run() -> None:
    with pytest.raises(ValueError, match="'micrograd' does not run 'nn'"):
        steps.make("nn", REGISTRY["micrograd"])


@pytest.mark.parametrize("engine", [e.name for e in runnable("mgstyle")]
                         + ["chainrule-nn", "chainrule-compile-nn", "numpy-numpy"])
def test_b1_engines_agree_on_the_loss(engine: str) -> None:
    workload = {"chainrule-nn": "nn", "numpy-numpy": "numpy"}.get(engine, "mgstyle")
    engine = engine.removesuffix("-nn").removesuffix("-numpy")
    need(engine)
    result = worker.measure("time", REGISTRY[engine], workload, steps=2, points=4)
    expected = worker.measure("time", REGISTRY["chainrule"], "mgstyle", steps=2, points=4)
    assert len(result["times"]) == 2
    for got, want in zip(result["losses"], expected["losses"]):
        assert math.isclose(got, want, rel_tol=1e-9)


@pytest.mark.parametrize("workload", ["nn", "mgstyle"])
def test_b1_replayed_steps_have_the_eager_losses_bit_for_bit(workload: str) -> None:
    """The rows with ``autograd.compile``: recorded at the warm-up step, replayed at the timed
    ones, the same losses as the eager engine to the last bit."""
    replayed = worker.measure("time", REGISTRY["chainrule-compile"], workload, steps=3, points=8)
    eager = worker.measure("time", REGISTRY["chainrule"], workload, steps=3, points=8)
    assert replayed["losses"] == eager["losses"] and replayed["nodes"] == eager["nodes"]


def test_numpy_b1_computes_the_engines_losses_and_gradients() -> None:
    """The hand-written numpy step against the eager engine through ``nn``, over 4 SGD steps:
    close, not bitwise (numpy's matmul sums in another order than the ``affine`` node)."""
    import numpy as np

    import autograd
    import nn
    from benchmarks.numpy_mlp import NumpyMLP

    X, y = data.make_moons(100)
    weights = data.mlp_weights(2, [16, 16, 1])
    net = NumpyMLP(weights)
    model = nn.MLP(2, [16, 16, 1])
    parameters = model.parameters()
    for p, w in zip(parameters, [w for layer in weights for neuron in layer for w in neuron],
                    strict=True):
        p.data = w
    optimizer = nn.SGD(parameters, lr=1.0)
    for k in range(4):
        loss = nn.hinge_loss([model(x) for x in X], y) + mlp.ALPHA * autograd.dot(parameters,
                                                                                   parameters)
        optimizer.zero_grad()
        loss.backward()
        assert math.isclose(net.loss(X, y), loss.data, rel_tol=1e-13)
        np.testing.assert_allclose(net.backward(), [p.grad for p in parameters], rtol=0,
                                   atol=1e-14)
        optimizer.lr = 1.0 - 0.9 * k / 100
        optimizer.step()
        net.sgd(optimizer.lr)
    assert net.grad.any()
    np.testing.assert_allclose(net.theta, [p.data for p in parameters], rtol=0, atol=1e-13)


def test_mlp_is_micrograds_own_mlp() -> None:
    need("micrograd")
    from micrograd.engine import Value
    from micrograd.nn import MLP

    X, y = data.make_moons(6)
    weights = data.mlp_weights(2, [4, 1])
    theirs = MLP(2, [4, 1])
    for p, w in zip(theirs.parameters(), [w for layer in weights for n in layer for w in n]):
        p.data = w
    ours = mlp.MLP(Value, weights)
    assert (mlp.moons_loss(ours, ours.parameters(), Value, X, y).data
            == mlp.moons_loss(theirs, theirs.parameters(), Value, X, y).data)


def test_b5_is_microgpts_size() -> None:
    model = gpt.MicroGPT(gpt.FLOATS, data.make_names())
    assert len(model.params) == 4192 and model.bos + 1 == 27


def test_b5_same_losses_on_every_value_class() -> None:
    """Only the Value class differs: three training steps give the same losses on each."""
    curves = {}
    for engine in runnable("microgpt"):  # in this process both chainrule rows are one class
        if engine.name != "floats" and engine.value not in curves:
            model = gpt.MicroGPT(gpt.values(engine.value_class()), ["emma", "bob", "ava"])
            step = steps.Step(model.loss, lambda loss: loss.backward(), model.adam)
            curves[engine.value] = [step(k) for k in range(3)]
    reference = curves.pop(REGISTRY["microgpt"].value)
    assert reference[0] != reference[1] != reference[2]  # Adam changed the weights
    for losses in curves.values():
        assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(losses, reference))


def test_b5_floor_computes_the_same_forward_pass() -> None:
    from benchmarks.reference.microgpt import Value

    names = data.make_names()
    on_values = gpt.MicroGPT(gpt.values(Value), names).loss(3).data
    assert math.isclose(gpt.MicroGPT(gpt.FLOATS, names).loss(3), on_values, rel_tol=1e-12)


def test_b3_chain_gradient() -> None:
    result = worker.measure("chain", REGISTRY["chainrule"], n=2000)
    assert result["nodes"] == 4000 and result["backward"] > 0
    assert math.isclose(result["grad_a"], chain_gradient(2000), rel_tol=1e-9)


@pytest.mark.parametrize("engine", [e.name for e in REGISTRY.values() if e.recursive_sort])
def test_b3_recursive_sorts_hit_the_recursion_limit(engine: str) -> None:
    need(engine)
    assert "RecursionError" in worker.measure("chain", REGISTRY[engine], n=1000)["error"]


@pytest.mark.parametrize(("engine", "workload"),
                         [("chainrule", "mgstyle"), ("chainrule", "nn"), ("micrograd", "mgstyle"),
                          ("chainrule", "chain"), ("microgpt", "chain")])
def test_b4_memory(engine: str, workload: str) -> None:
    need(engine)
    result = worker.measure("memory", REGISTRY[engine], workload, points=4, n=1000)
    assert 0 < result["bytes_per_node_forward"] <= result["bytes_per_node_backward"]
    assert result["peak"] >= result["after_backward"]


def test_worker_process_sets_up_the_engine() -> None:
    """The pure-Python row runs in a process with CHAINRULE_PURE_PYTHON=1 and says so."""
    result = run.run_worker(Job("time", "chainrule-python", "mgstyle", steps=1, points=2))
    assert result["implementation"] == "python" and len(result["times"]) == 1


@pytest.mark.skipif(not (report.ROOT / ".git").exists(),
                    reason="--baseline reads a git revision: not in an unpacked sdist")
def test_runner_prints_the_targets_table_with_a_baseline() -> None:
    report = run.main(["--quick", "--only", "b1,b3,b4,b5,b6", "--baseline", "HEAD",
                       "--engines", "chainrule,chainrule-compile,numpy,floats"])
    for row in ("B1 through `nn` vs micrograd", "B3 chain", "B4 bytes", "B5 microgpt step",
                "B3 chain per node: pure Python now / at",
                "B1 through `nn` with `autograd.compile` vs the same step written by hand",
                "B6 `chainrule-gpt --compile` vs `chainrule-gpt`", "B6 recordings"):
        assert f"| {row}" in report
    assert "chainrule at " in report and "failed" not in report
    assert "every step's loss is the same on every Value class (relative 1e-9): yes" in report
    assert "Same held-out loss in every process, to the last bit: yes" in report
