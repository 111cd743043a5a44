"""Shared test helpers: points drawn from an op's stated domain."""

from __future__ import annotations

import random

from autograd.ops import Op


def sample_points(op: Op, count: int = 5, seed: int = 0, n_inputs: int = 3) -> list[list[float]]:
    """``count`` input vectors for ``op``, each coordinate from its domain, away from kinks."""
    rng = random.Random(f"{op.name}-{seed}")
    arity = op.arity or n_inputs
    if op.name == "dot" or op.name.startswith("affine"):  # x1..xn, y1..yn (and a bias)
        arity = 2 * n_inputs + (op.name != "dot")
    intervals = op.domain if op.arity else op.domain * arity
    points = []
    while len(points) < count:
        point = [rng.uniform(low, high) for low, high in intervals]
        if not op.near_kink(point):
            points.append(point)
    return points
