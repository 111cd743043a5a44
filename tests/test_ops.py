"""Every op in the table, checked against finite differences at points from its domain."""

from __future__ import annotations

import pytest

from autograd import OPS, Value, apply, gradcheck
from autograd.ops import Op
from tests.conftest import sample_points

ALL_OPS = sorted(OPS.values(), key=lambda op: op.name)


def test_every_op_states_a_domain_for_each_input():
    for op in ALL_OPS:
        assert op.domain, f"op {op.name!r} has no domain for its tests to draw from"
        if op.arity:
            assert len(op.domain) == op.arity, f"op {op.name!r}: one interval per input"
        for low, high in op.domain:
            assert low < high, f"op {op.name!r}: empty interval ({low}, {high})"


def test_the_table_covers_the_documented_primitives():
    expected = {"+", "-", "*", "/", "**", "neg", "exp", "log", "tanh", "sigmoid", "relu", "gelu",
                "softplus", "sin", "cos", "sqrt", "abs", "sum", "dot", "logsumexp", "softmax"}
    assert expected <= set(OPS)
    assert any(name.startswith("leaky_relu") for name in OPS)
    assert any(name.startswith("**") and name != "**" for name in OPS)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.name)
def test_first_derivatives_match_finite_differences(op: Op):
    for point in sample_points(op):
        assert gradcheck(lambda *xs: apply(op, *xs), point)


@pytest.mark.parametrize("op", [op for op in ALL_OPS if op.twice_differentiable],
                         ids=lambda op: op.name)
def test_second_derivatives_match_finite_differences(op: Op):
    for point in sample_points(op, count=3, seed=1):
        assert gradcheck(lambda *xs: apply(op, *xs), point, eps=1e-5, atol=1e-4, order=2)


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.name)
def test_rules_return_one_derivative_per_input(op: Op):
    for point in sample_points(op, count=1):
        out = op.forward(point) if op.arity == 0 else op.forward(*point)
        assert len(op.partials(out, point)) == len(point)
        xs = [Value(x) for x in point]
        node = apply(op, *xs)
        assert node.op == op.name and node.parents == tuple(xs)
        assert len(op.partials(node, xs)) == len(point)
