"""Every op — the table, members of its families, and a user's own op — checked against finite
differences at points from its domain, and through every path that computes a gradient."""

from __future__ import annotations

import itertools
import math
import random

import pytest

import autograd
from autograd import Value, apply, gradcheck, gradients
from autograd.ops import OPS, Op
from autograd.viz import trace_backward
from tests.conftest import ALL_OPS, FMA, n_inputs_of, sample_points

ids = [op.name for op in ALL_OPS]


def test_every_op_states_a_domain_for_each_input():
    for op in ALL_OPS:
        assert op.domain, f"op {op.name!r} has no domain for its tests to draw from"
        if op.arity:
            assert len(op.domain) == op.arity, f"op {op.name!r}: one interval per input"
        for low, high in op.domain:
            assert low < high, f"op {op.name!r}: empty interval ({low}, {high})"


def test_the_table_holds_the_documented_primitives():
    expected = {"+", "-", "*", "/", "**", "neg", "exp", "log", "tanh", "sigmoid", "relu", "gelu",
                "softplus", "sin", "cos", "sqrt", "abs", "erf", "identity", "sum", "dot",
                "affine", "logsumexp"}
    assert set(OPS) == expected
    assert all(OPS[name].name == name for name in OPS)


def test_families_are_cached_and_describe_themselves():
    assert autograd.ops.power(2) is autograd.ops.power(2.0)
    assert autograd.ops.power(2).family == "power" and autograd.ops.power(2).parameter == 2.0
    assert autograd.ops.leaky_relu(0.2).parameter == 0.2
    neuron = autograd.ops.activated(autograd.ops.TANH)
    assert neuron.family == "activated" and neuron.activation is autograd.ops.TANH


@pytest.mark.parametrize("op", ALL_OPS, ids=ids)
def test_first_derivatives_match_finite_differences(op: Op):
    for point in sample_points(op):
        assert gradcheck(lambda *xs: apply(op, *xs), point)


@pytest.mark.parametrize("op", [op for op in ALL_OPS if op.twice_differentiable],
                         ids=[op.name for op in ALL_OPS if op.twice_differentiable])
def test_second_derivatives_match_finite_differences(op: Op):
    for point in sample_points(op, count=3, seed=1):
        assert gradcheck(lambda *xs: apply(op, *xs), point, eps=1e-5, atol=1e-4, order=2)


@pytest.mark.parametrize("op", ALL_OPS, ids=ids)
def test_rules_return_one_derivative_per_input(op: Op):
    for point in sample_points(op, count=1):
        out = op.compute(point)
        assert len(op.partials(out, point)) == len(point)
        xs = [Value(x) for x in point]
        node = apply(op, *xs)
        assert node.op == op.name and node.parents == tuple(xs)
        assert len(op.partials(node, xs)) == len(point)


def test_apply_checks_the_number_of_inputs():
    with pytest.raises(TypeError, match="fma: takes 3 inputs, got 2"):
        apply(FMA, 1.0, 2.0)


# --- every path agrees: values, and which inputs raise --------------------------------------


def _through_every_path(op: Op, point: list[float]) -> dict[str, object]:
    """The gradient of ``op`` at ``point`` by each path users call, or the error type raised."""
    def run(path):
        try:
            return [float(g) for g in path()]
        except (ArithmeticError, ValueError) as error:
            return type(error)

    def backward(create_graph=False):
        xs = [Value(x) for x in point]
        apply(op, *xs).backward(create_graph=create_graph)
        return [x.grad if type(x.grad) is float else x.grad.data for x in xs]

    def walk():
        xs = [Value(x) for x in point]
        grads = gradients(apply(op, *xs), xs)
        return [grads.get(x, 0.0) for x in xs]

    def trace():
        xs = [Value(x) for x in point]
        totals = {}
        for step in trace_backward(apply(op, *xs)):
            totals.update((edge.parent, edge.total) for edge in step.edges)
        return [totals.get(x, 0.0) for x in xs]

    argnums = tuple(range(len(point)))
    return {
        "backward()": run(backward),
        "backward(create_graph=True)": run(lambda: backward(create_graph=True)),
        "gradients": run(walk),
        "grad": run(lambda: autograd.grad(lambda *xs: apply(op, *xs), argnums)(*point)),
        "trace_backward": run(trace),
    }


SPECIAL = [0.0, 1.0, -1.0, 0.5, 1e-200, -1e-200, 1e200, 5e-324, 710.0, -745.5, 30.0]


def _special_points(op: Op) -> list[list[float]]:
    size = n_inputs_of(op, 2)
    if size <= 2:
        return [list(p) for p in itertools.product(SPECIAL, repeat=size)]
    return [[x] * size for x in SPECIAL] + [[x, *[1.0] * (size - 1)] for x in SPECIAL]


@pytest.mark.parametrize("op", ALL_OPS, ids=ids)
def test_every_path_gives_the_same_gradient_or_the_same_error(op: Op):
    points = sample_points(op, count=2) + _special_points(op)
    for point in points:
        try:
            with autograd.no_grad():
                apply(op, *point)
        except (ArithmeticError, ValueError):
            continue  # the forward refuses: no gradient to compare
        outcomes = _through_every_path(op, point)
        reference = outcomes["backward()"]
        for path, outcome in outcomes.items():
            if isinstance(reference, type) or isinstance(outcome, type):
                assert outcome == reference, f"{op.name} at {point}: {path} gave {outcome}, " \
                                             f"backward() gave {reference}"
            else:
                assert outcome == pytest.approx(reference, rel=1e-12, abs=1e-300), \
                    f"{op.name} at {point}: {path}"


EXTREMES = [0.0, -0.0, 5e-324, -5e-324, 1e-200, -1e-200, 1e300, -1e300, math.inf, -math.inf]


@pytest.mark.parametrize("op", [op for op in ALL_OPS if op.always_defined],
                         ids=lambda op: op.name)
def test_a_rule_said_to_be_always_defined_never_fails_where_its_forward_succeeds(op: Op):
    # what lets the walk leave it unevaluated where the gradient is 0 (see engine.walk)
    rng = random.Random(op.name)
    tried = 0
    for _ in range(400):
        point = [rng.choice([*EXTREMES, rng.uniform(-3.0, 3.0)]) for _ in range(n_inputs_of(op))]
        try:
            out = op.compute(point)
        except (ArithmeticError, ValueError):
            continue
        op.partials(out, point)  # must not raise
        tried += 1
    assert tried >= 50


def test_rules_that_can_fail_and_users_ops_are_not_said_to_be_always_defined():
    assert not any(OPS[name].always_defined for name in ("/", "**", "log", "sqrt", "logsumexp"))
    assert not FMA.always_defined and not autograd.ops.power(2).always_defined
    assert autograd.ops.activated(autograd.ops.RELU).always_defined


def test_a_derivative_undefined_where_it_is_multiplied_by_zero_raises_on_every_path():
    def f(x):
        return x.sqrt() * 0

    outcomes = _through_every_path(Op("sqrt*0", lambda x: 0.0, lambda out, x: (0.0,), 1,
                                      [(0, 1)]), [0.0])
    assert outcomes  # the op itself is harmless; the composition is what matters:
    x = Value(0.0)
    with pytest.raises(ZeroDivisionError, match="backward through sqrt at inputs"):
        f(x).backward()
    with pytest.raises(ZeroDivisionError, match="backward through sqrt"):
        f(Value(0.0)).backward(create_graph=True)
    with pytest.raises(ZeroDivisionError, match="backward through sqrt"):
        autograd.grad(f)(0.0)
    with pytest.raises(ZeroDivisionError, match="backward through sqrt"):
        trace_backward(f(Value(0.0)))
    assert x.grad == 0.0  # nothing written


def test_a_users_ternary_op_works_on_every_path():
    point = [0.7, -1.3, 0.4]
    outcomes = _through_every_path(FMA, point)
    for outcome in outcomes.values():
        assert outcome == pytest.approx([-1.3, 0.7, 1.0])
    assert gradcheck(lambda *xs: apply(FMA, *xs), point, order=2)
    from autograd.viz import draw
    assert "fma" in draw(apply(FMA, *map(Value, point))).source


def test_overflowing_gradients_raise_on_every_path():
    outcomes = _through_every_path(autograd.ops.DIV, [1.0, 1e-200])
    assert set(outcomes.values()) == {OverflowError}
    assert math.isfinite(1.0 / 1e-200)
