"""Property-based: random expression graphs over the op table agree with finite differences."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd import OPS, Value, apply, gradcheck

UNARY = [op for op in OPS.values() if op.arity == 1]
BINARY = [op for op in OPS.values() if op.arity == 2]
NARY = [op for op in OPS.values() if op.arity == 0]


def _fits(op, xs):
    """Whether the inputs lie well inside the op's test domain (so its forward and rules hold)."""
    intervals = op.domain if op.arity else op.domain * len(xs)
    return not op.near_kink([x.data for x in xs]) and all(
        low + 0.01 <= x.data <= high - 0.01 for x, (low, high) in zip(xs, intervals))


@st.composite
def programs(draw):
    """A list of steps, each applying an op to earlier values (so nodes get reused)."""
    n_inputs = draw(st.integers(1, 3))
    inputs = draw(st.lists(st.floats(-1.5, 1.5), min_size=n_inputs, max_size=n_inputs))
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["unary", "binary", "nary"]))
        op = draw(st.sampled_from({"unary": UNARY, "binary": BINARY, "nary": NARY}[kind]))
        count = {"unary": 1, "binary": 2, "nary": 2 * draw(st.integers(1, 3))}[kind]
        count += op.name.startswith("affine")  # x1..xn, y1..yn and a bias
        steps.append((op, [draw(st.integers(0, 10_000)) for _ in range(count)]))
    return inputs, steps


def valid_steps(steps, xs):
    """The steps whose inputs fit their op's domain at the point ``xs`` (decided once, there)."""
    values, kept = list(xs), []
    for op, picks in steps:
        args = [values[i % len(values)] for i in picks]
        if _fits(op, args):
            values.append(apply(op, *args))
            kept.append((op, picks))
    return kept


def run(steps, xs):
    values = list(xs)
    for op, picks in steps:
        values.append(apply(op, *[values[i % len(values)] for i in picks]))
    return values[-1] * 1.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_graphs_match_finite_differences(program):
    inputs, steps = program
    steps = valid_steps(steps, [Value(x) for x in inputs])
    out = run(steps, [Value(x) for x in inputs])
    if math.isfinite(out.data) and abs(out.data) < 1e6:
        assert gradcheck(lambda *xs: run(steps, xs), inputs, atol=1e-4, rtol=1e-3)
