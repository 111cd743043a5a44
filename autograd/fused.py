"""Fused front-ends: many inputs, one node (or one node per output), built on ``apply``.

Python's ``sum`` makes a node per ``+``; ``autograd.sum`` makes one. ``dot`` and ``linear`` are a
neuron's and a layer's worth of multiply-adds; ``logsumexp`` and ``softmax`` are computed so that
no input, however large, overflows or loses precision.
"""

from __future__ import annotations

import operator
from typing import Iterable, Sequence

from autograd import ops
from autograd.grad_mode import recording
from autograd.ops import Op
from autograd.value import Number, Value, apply


def sum(values: Iterable[Value | Number]) -> Value:
    """The sum of many values as one node (``Python's sum`` makes one node per ``+``).

    >>> sum([Value(1.0), 2, Value(3.0)]).data
    6.0
    """
    values = tuple(values)
    if not values:
        return Value(0.0)
    return apply(ops.SUM, *values)


def dot(xs: Sequence[Value | Number], ys: Sequence[Value | Number],
        bias: Value | Number | None = None) -> Value:
    """Σ xs[i] * ys[i] (+ bias) as one node: what a neuron computes before its activation.

    >>> dot([Value(1.0), Value(2.0)], [3, 4]).data
    11.0
    >>> dot([Value(1.0), Value(2.0)], [3, 4], bias=Value(0.5)).op
    'affine'
    """
    if len(xs) != len(ys):
        raise ValueError(f"dot: xs and ys must have the same length, got {len(xs)} and {len(ys)}")
    if not xs:
        raise ValueError("dot: needs at least one pair of values, got empty sequences")
    if bias is None:
        return apply(ops.DOT, *xs, *ys)
    return apply(ops.AFFINE, *xs, *ys, bias)


def linear(xs: Sequence[Value | Number], weights: Sequence[Sequence[Value | Number]],
           biases: Sequence[Value | Number], activation: str | Op | None = None) -> list[Value]:
    """``[dot(w, xs, bias=b) for w, b in zip(weights, biases)]``: a layer of neurons.

    One ``affine`` node per output. With an ``activation`` (a unary op, by name — ``"relu"``,
    ``"tanh"``, ``"sigmoid"``, ``"gelu"``, ``"leaky_relu"``... — or as an ``Op``) each output is
    one fused ``affine>activation`` node: a whole neuron, half the nodes.

    >>> [v.data for v in linear([1.0, 2.0], [[Value(1.0), Value(1.0)], [Value(0.5), 0]], [0, 1])]
    [3.0, 1.5]
    >>> [(v.op, v.data) for v in linear([1.0], [[Value(-2.0)]], [0.5], activation="relu")]
    [('affine>relu', 0.0)]
    """
    if isinstance(activation, str):
        activation = ops.unary(activation)
    op = ops.AFFINE if activation is None else ops.activated(activation)
    if len(weights) != len(biases):
        raise ValueError(f"linear: one bias per row of weights, got {len(weights)} rows and "
                         f"{len(biases)} biases")
    xs = [x if isinstance(x, Value) else Value(x) for x in xs]  # lifted once for all rows
    for row in weights:
        if len(row) != len(xs):
            raise ValueError(f"linear: each row of weights needs {len(xs)} entries, got "
                             f"{len(row)}")
    return [apply(op, *row, *xs, bias) for row, bias in zip(weights, biases)]


def logsumexp(values: Iterable[Value | Number]) -> Value:
    """log Σ exp(values) as one node, computed stably (no overflow for large inputs).

    >>> round(logsumexp([Value(1000.0), Value(1000.0)]).data, 4)
    1000.6931
    """
    values = tuple(values)
    if not values:
        raise ValueError("logsumexp: needs at least one value, got an empty sequence")
    return apply(ops.LOGSUMEXP, *values)


def softmax(values: Iterable[Value | Number]) -> list[Value]:
    """exp(x_i) / Σ exp(x): exp(x_i - m) / Σ exp(x - m) with m the largest input's data.

    Shifting by a constant changes neither the result nor any derivative, and keeps every
    exponent <= 0, so nothing overflows and nothing loses digits at any magnitude.

    >>> [round(p.data, 3) for p in softmax([Value(0.0), Value(1.0)])]
    [0.269, 0.731]
    >>> [p.data for p in softmax([Value(1e16), Value(1e16)])]
    [0.5, 0.5]
    """
    values = [x if isinstance(x, Value) else Value(x) for x in values]
    if not values:
        raise ValueError("softmax: needs at least one value, got an empty sequence")
    top = max([x._data for x in values])
    shifted = [(x - _shift(top, values)).exp() for x in values]
    total = sum(shifted)
    return [e / total for e in shifted]


def _shift(top: float, values: list[Value]) -> Value:
    """A constant leaf holding ``top``, the largest of ``values``; while ``autograd.compile``
    records, it is noted as computed from them (``ops.SHIFT``), so a replay computes it anew."""
    leaf = Value(top)
    if recording.function:
        recording.derived[leaf] = (ops.SHIFT, values)
    return leaf


def take(values: Sequence[Value | Number], index: int | Value) -> Value:
    """``values[index]``, where the index may be a Value holding an integral number.

    With a Value as the index, the pick is one node (op ``take``: derivative 1 for the value
    picked, 0 for the others and for the index), so ``autograd.compile`` replays it with a new
    index. With an ``int`` it is ``values[index]`` itself (a number lifted to a constant leaf).
    An index that is not integral or out of range raises, naming both (negative indices count
    from the end, as in Python).

    >>> xs = [Value(1.0), Value(5.0), Value(7.0)]
    >>> take(xs, Value(2)).data, take(xs, -1) is xs[2]
    (7.0, True)
    >>> take(xs, Value(2)).backward(); [x.grad for x in xs]
    [0.0, 0.0, 1.0]
    """
    if isinstance(index, Value):
        values = tuple(values)
        if not values:
            raise ValueError("take: needs at least one value to pick from, got an empty sequence")
        return apply(ops.TAKE, index, *values)
    try:
        position = operator.index(index)
    except TypeError:
        raise TypeError(f"take: the index must be an int or a Value holding an integral number, "
                        f"got {type(index).__name__}: {index!r}") from None
    picked = values[ops.take_position(position, len(values))]
    return picked if isinstance(picked, Value) else Value(picked)
