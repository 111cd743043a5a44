"""Shared test helpers: the ops to test (the table and members of its families), and points
drawn from an op's stated domain, and an environment without a given package."""

from __future__ import annotations

import os
import random
from pathlib import Path

from autograd import ops
from autograd.ops import Op

FMA = Op("fma", forward=lambda x, y, z: x * y + z, derivatives=lambda out, x, y, z: (y, x, 1.0),
         arity=3, domain=[(-2, 2)] * 3)
"""A user's own ternary op, made the documented way."""

FAMILY_MEMBERS = [ops.power(p) for p in (0, 1, 2, 3, -1, 0.5, -0.5, 1.5, 2.7)] + [
    ops.leaky_relu(slope) for slope in (0.01, 0.2, -0.5)] + [
    ops.activated(activation) for activation in (
        ops.RELU, ops.TANH, ops.SIGMOID, ops.GELU, ops.leaky_relu(0.01), ops.EXP)]

ALL_OPS: list[Op] = [*sorted(ops.OPS.values(), key=lambda op: op.name), *FAMILY_MEMBERS, FMA]
"""Every op the tests walk: the fixed table, members of each family, and a user's op."""


def n_inputs_of(op: Op, n: int = 3) -> int:
    """How many inputs to give ``op``: its arity, or for an n-ary op ``n`` values (dot and
    affine-like ops take pairs and a bias)."""
    if op.arity:
        return op.arity
    if op is ops.DOT:
        return 2 * n
    if op is ops.AFFINE or op.activation is not None:
        return 2 * n + 1
    return n


def sample_points(op: Op, count: int = 5, seed: int = 0, n_inputs: int = 3) -> list[list[float]]:
    """``count`` input vectors for ``op``, each coordinate from its domain, away from kinks."""
    rng = random.Random(f"{op.name}-{seed}")
    size = n_inputs_of(op, n_inputs)
    intervals = op.domain if op.arity else op.domain * size
    points = []
    while len(points) < count:
        point = [rng.uniform(low, high) for low, high in intervals]
        if not op.near_kink(point):
            points.append(point)
    return points


ROOT = Path(__file__).resolve().parent.parent


def without(tmp_path, module: str) -> dict:
    """An environment in which ``import module`` fails as if it were not installed."""
    fake = tmp_path / "hide" / module
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "hide"), str(ROOT)])}
