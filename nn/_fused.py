"""Fused n-ary nodes (``sum``, ``dot``, ``logsumexp``) that also work for one or two inputs.

``autograd``'s ``backward()`` fast path chooses how to call a node's derivative rule from the
number of parents (one: unary, two: binary) rather than from the op's arity, so today an n-ary
node with one or two parents fails there with a ``TypeError`` (``gradients()`` is fine). These
wrappers give the same results with ordinary unary/binary ops in those cases; once the engine
dispatches on ``op.arity`` they reduce to the ``autograd`` functions and can go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import autograd
from autograd import Value

Number = Union[int, float]


def sum_(values: Sequence[Value]) -> Value:
    """``autograd.sum``. ``sum_([Value(1.0), Value(2.0)]).data == 3.0``."""
    if len(values) == 1:
        return values[0] + 0.0
    if len(values) == 2:
        return values[0] + values[1]
    return autograd.sum(values)


def dot_(xs: Sequence[Value | Number], ys: Sequence[Value | Number]) -> Value:
    """``autograd.dot``. ``dot_([Value(2.0)], [Value(3.0)]).data == 6.0``."""
    if len(xs) == 1 == len(ys):
        x, y = xs[0], ys[0]
        return (x if isinstance(x, Value) else Value(x)) * y
    return autograd.dot(xs, ys)


def logsumexp_(values: Sequence[Value]) -> Value:
    """``autograd.logsumexp``; for two values ``a + softplus(b - a)``, stable for any inputs.

    >>> round(logsumexp_([Value(1000.0), Value(1000.0)]).data, 4)
    1000.6931
    """
    if len(values) == 1:
        return values[0] + 0.0
    if len(values) == 2:
        a, b = values
        if b.data > a.data:
            a, b = b, a
        return a + (b - a).softplus()
    return autograd.logsumexp(values)
