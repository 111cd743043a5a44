"""``Value``: a real number that remembers the op and the parents it was computed from."""

from __future__ import annotations

import builtins
import numbers
import operator
import threading
from contextlib import ContextDecorator
from typing import Iterable, Sequence, Union

from autograd import ops
from autograd.ops import LEAF, Op

Number = Union[int, float]


class _GradMode(threading.local):
    enabled = True  # the class attribute is every thread's starting value

    def __init__(self) -> None:
        self.saved: list[bool] = []  # each thread's stack of settings to restore


_grad_mode = _GradMode()


class _GradModeSwitch(ContextDecorator):
    """Set graph recording for a block or a decorated function, then restore it (per thread).

    The setting to restore is kept on a per-thread stack, so one instance can be nested, used
    recursively as a decorator, and shared by threads.
    """

    record: bool

    def __enter__(self) -> None:
        _grad_mode.saved.append(_grad_mode.enabled)
        _grad_mode.enabled = self.record

    def __exit__(self, *exc_info: object) -> None:
        _grad_mode.enabled = _grad_mode.saved.pop()


class no_grad(_GradModeSwitch):
    """Record no graph inside this block (or decorated function); the switch is per thread.

    Values computed inside are leaves: they have ``.data`` but no history.

    >>> from autograd import Value, no_grad
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y.parents
    ()
    """

    record = False


class enable_grad(_GradModeSwitch):
    """Record the graph inside this block even within ``no_grad`` (as PyTorch's).

    ``grad``, ``jacobian``, ``hessian``, ``gradcheck`` and ``backward(create_graph=True)`` use
    it, so they work the same wherever they are called.

    >>> from autograd import Value, no_grad, enable_grad
    >>> with no_grad(), enable_grad():
    ...     y = Value(2.0) * 3
    >>> y.op
    '*'
    """

    record = True


def is_grad_enabled() -> bool:
    """Whether operations on Values record a graph in this thread (see ``no_grad``).

    >>> is_grad_enabled()
    True
    """
    return _grad_mode.enabled


def _as_float(data: object) -> float:
    if type(data) is not float:
        if not isinstance(data, numbers.Real) or isinstance(data, bool):
            raise TypeError(
                f"Value needs a real number (int, float, or a numpy integer/floating scalar), "
                f"got {type(data).__name__}: {data!r}"
            )
        try:
            data = float(data)
        except OverflowError:
            raise OverflowError(f"Value: {data!r} is too large for a float") from None
    if data != data:
        raise ValueError("Value needs a number, got NaN (a NaN would spread silently)")
    return data


class Value:
    """A scalar in a computation graph: ``data``, its gradient ``grad``, and how it was made.

    >>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    >>> c = a * b + a.exp()
    >>> c.backward()
    >>> round(a.grad, 4), b.grad
    (4.3891, 2.0)

    ``Value``s you create are leaves; every operation makes a new node whose ``parents`` are its
    inputs. ``==`` and ``hash`` are identity (Values work as set members and dict keys), while
    ``< <= > >=`` compare ``data``.
    """

    # A label lives on the node's op record (``Op.label``), not in a slot of its own: 8 bytes less
    # per node, and a graph can have millions of nodes. Parents are a tuple; there is no closure
    # and no reference back to the node, so a graph has no cycles and frees itself by refcount.
    __slots__ = ("data", "grad", "_op", "_prev")

    def __init__(self, data: Number, label: str = "") -> None:
        self.data: float = _as_float(data)
        self.grad: float | Value = 0.0
        self._op: Op = LEAF.labeled(label) if label else LEAF
        self._prev: tuple[Value, ...] = ()

    # --- what a node is -----------------------------------------------------------------------

    @property
    def label(self) -> str:
        """A name for drawings and reprs, e.g. ``Value(1.0, label="w1")``."""
        return self._op.label

    @label.setter
    def label(self, label: str) -> None:
        self._op = self._op.labeled(label)

    @property
    def op(self) -> str:
        """The name of the op that computed this Value (``""`` for a leaf).

        >>> (Value(1.0) + 2).op
        '+'
        """
        return self._op.name

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs this Value was computed from, in order (``()`` for a leaf).

        >>> a = Value(1.0); (a * 2).parents[0] is a
        True
        """
        return self._prev

    @property
    def is_leaf(self) -> bool:
        """True for a Value with no parents (created by the user, a constant, or detached)."""
        return not self._prev

    def item(self) -> float:
        """The plain float, as in PyTorch. ``Value(3).item() == 3.0``."""
        return self.data

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # --- arithmetic: numbers on either side become constant leaves ----------------------------

    def __add__(self, other: Value | Number) -> Value:
        return _binary(ops.ADD, self, other)

    def __radd__(self, other: Number) -> Value:
        return _binary(ops.ADD, other, self)

    def __sub__(self, other: Value | Number) -> Value:
        return _binary(ops.SUB, self, other)

    def __rsub__(self, other: Number) -> Value:
        return _binary(ops.SUB, other, self)

    def __mul__(self, other: Value | Number) -> Value:
        return _binary(ops.MUL, self, other)

    def __rmul__(self, other: Number) -> Value:
        return _binary(ops.MUL, other, self)

    def __truediv__(self, other: Value | Number) -> Value:
        return _binary(ops.DIV, self, other)

    def __rtruediv__(self, other: Number) -> Value:
        return _binary(ops.DIV, other, self)

    def __pow__(self, exponent: Value | Number) -> Value:
        if isinstance(exponent, Value):
            return _binary(ops.POW, self, exponent)
        return _unary(ops.power(_as_float(exponent)), self)

    def __rpow__(self, base: Number) -> Value:
        return _binary(ops.POW, base, self)

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __abs__(self) -> Value:
        return _unary(ops.ABS, self)

    # --- comparisons look at data -------------------------------------------------------------

    def __lt__(self, other: Value | Number) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Value | Number) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Value | Number) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Value | Number) -> bool:
        return self.data >= _data(other)

    # --- functions (each one op of the table, see autograd/ops.py) ----------------------------

    def exp(self) -> Value:
        """e ** self. ``Value(0).exp().data == 1.0``."""
        return _unary(ops.EXP, self)

    def log(self) -> Value:
        """Natural log; ``ValueError`` for inputs <= 0. ``Value(1).log().data == 0.0``."""
        return _unary(ops.LOG, self)

    def sqrt(self) -> Value:
        """Square root; ``ValueError`` for negative inputs. ``Value(4).sqrt().data == 2.0``."""
        return _unary(ops.SQRT, self)

    def sin(self) -> Value:
        """Sine. ``Value(0).sin().data == 0.0``."""
        return _unary(ops.SIN, self)

    def cos(self) -> Value:
        """Cosine. ``Value(0).cos().data == 1.0``."""
        return _unary(ops.COS, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent. ``Value(0).tanh().data == 0.0``."""
        return _unary(ops.TANH, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x), stable for any input. ``Value(0).sigmoid().data == 0.5``."""
        return _unary(ops.SIGMOID, self)

    def softplus(self) -> Value:
        """log(1 + e**x), stable for any input. ``Value(-1000).softplus().data == 0.0``."""
        return _unary(ops.SOFTPLUS, self)

    def relu(self) -> Value:
        """max(x, 0). ``Value(-2).relu().data == 0.0``."""
        return _unary(ops.RELU, self)

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope * x. ``Value(-2).leaky_relu(0.1).data == -0.2``."""
        return _unary(ops.leaky_relu(float(slope)), self)

    def gelu(self) -> Value:
        """x Φ(x), the exact (erf) form. ``Value(0).gelu().data == 0.0``."""
        return _unary(ops.GELU, self)

    def erf(self) -> Value:
        """The error function. ``Value(0).erf().data == 0.0``."""
        return _unary(ops.ERF, self)

    def abs(self) -> Value:
        """|x|; its derivative at 0 is taken as 0. ``Value(-2).abs().data == 2.0``."""
        return _unary(ops.ABS, self)

    # --- gradients ----------------------------------------------------------------------------

    def backward(self, create_graph: bool = False) -> None:
        """Backpropagate from this Value: fill ``.grad`` of everything it was computed from.

        The output's gradient is seeded with 1 and every node's local derivatives are applied
        in reverse topological order (an iterative walk, so any depth works). Calling it again:
        leaves (Values you created) accumulate, as in PyTorch — call ``zero_grad`` or set
        ``.grad = 0.0`` between steps; interior nodes are recomputed from scratch, never
        double-counted. With ``create_graph=True`` the gradients are Values connected to the
        graph, so they can be differentiated again (a leaf's ``.grad`` then reaches back to the
        leaf: reset it to ``0.0`` when done, as that is the one reference cycle chainrule makes).

        >>> a = Value(2.0); b = a * a; c = b * b
        >>> c.backward(); c.backward()
        >>> a.grad, b.grad
        (64.0, 8.0)
        """
        from autograd.engine import backward

        backward(self, create_graph=create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data and no history. ``Value(2.0).detach().data == 2.0``."""
        return Value(self.data)


def _data(x: Value | Number) -> float:
    return x.data if isinstance(x, Value) else x


def _lift(x: Value | Number) -> Value:
    return x if isinstance(x, Value) else Value(x)


_new = object.__new__
_ONLY_VALUES = frozenset([Value])


def apply(op: Op, *inputs: Value | Number) -> Value:
    """Compute ``op`` on ``inputs`` (Values or numbers) and record the result as a graph node.

    >>> apply(ops.MUL, Value(2.0), 3).data
    6.0
    """
    if not _ONLY_VALUES.issuperset(map(type, inputs)):  # numbers become constant leaves
        inputs = tuple([x if type(x) is Value else _lift(x) for x in inputs])
    data = [x.data for x in inputs]
    return _record(op, op.forward(data) if op.arity == 0 else op.forward(*data), inputs)


# The operators and methods above make most nodes, so they take these two shortcuts to `apply`:
# the same steps, without building an argument list.


def _unary(op: Op, x: Value) -> Value:
    return _record(op, op.forward(x.data), (x,))


def _binary(op: Op, x: Value | Number, y: Value | Number) -> Value:
    if type(x) is not Value:
        x = _lift(x)
    if type(y) is not Value:
        y = _lift(y)
    return _record(op, op.forward(x.data, y.data), (x, y))


def _record(op: Op, data: float, parents: tuple[Value, ...]) -> Value:
    """Make the node for ``op``'s result (a plain leaf under ``no_grad``)."""
    if data != data:
        raise ValueError(f"{op.name}: the result is NaN for inputs {[p.data for p in parents]}")
    node = _new(Value)
    if not _grad_mode.enabled:
        op, parents = LEAF, ()
    node.data = data
    node.grad = 0.0
    node._op = op
    node._prev = parents
    return node


# --- fused n-ary ops ----------------------------------------------------------------------------


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

    One ``affine`` node per output, as with ``dot``, but the inputs are checked and read once
    for the whole layer instead of once per neuron. With an ``activation`` (a unary op of the
    table, by name — ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"gelu"``... — or as an ``Op``) each
    output is one fused ``affine>activation`` node: a whole neuron, half the nodes.

    >>> [v.data for v in linear([1.0, 2.0], [[Value(1.0), Value(1.0)], [Value(0.5), 0]], [0, 1])]
    [3.0, 1.5]
    >>> [(v.op, v.data) for v in linear([1.0], [[Value(-2.0)]], [0.5], activation="relu")]
    [('affine>relu', 0.0)]
    """
    if isinstance(activation, str):
        if activation not in ops.OPS or ops.OPS[activation].arity != 1:
            unary = ", ".join(sorted(name for name, op in ops.OPS.items() if op.arity == 1))
            raise ValueError(f"linear: unknown activation {activation!r}; use one of: {unary}")
        activation = ops.OPS[activation]
    if len(weights) != len(biases):
        raise ValueError(f"linear: one bias per row of weights, got {len(weights)} rows and "
                         f"{len(biases)} biases")
    xs = tuple(xs)
    if not _ONLY_VALUES.issuperset(map(type, xs)):
        xs = tuple(map(_lift, xs))
    xdata = [x.data for x in xs]
    op = ops.AFFINE if activation is None else ops.activated(activation)
    n, mul, outputs = len(xs), operator.mul, []
    for w, b in zip(weights, biases):
        if len(w) != n:
            raise ValueError(f"linear: each row of weights needs {n} entries, got {len(w)}")
        if not (_ONLY_VALUES.issuperset(map(type, w)) and type(b) is Value):
            w, b = [_lift(v) for v in w], _lift(b)
        # the op's forward, computed from the pieces rather than one joined input list
        data = builtins.sum(map(mul, [v.data for v in w], xdata), b.data)
        if activation is not None:
            data = activation.forward(data)
        outputs.append(_record(op, data, (*w, *xs, b)))
    return outputs


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
    """exp(x_i) / Σ exp(x), stably: one node per output, all fed by one ``logsumexp`` node.

    >>> [round(p.data, 3) for p in softmax([Value(0.0), Value(1.0)])]
    [0.269, 0.731]
    """
    values = tuple(map(_lift, values))
    if not values:
        raise ValueError("softmax: needs at least one value, got an empty sequence")
    lse = logsumexp(values)
    return [_binary(ops.SOFTMAX, x, lse) for x in values]



# The compiled twin (autograd/_core.c) replaces Value and apply when it is built.
from autograd._compiled import select  # noqa: E402

Value, apply = select(Value, apply)
