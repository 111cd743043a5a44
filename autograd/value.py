"""``Value``: a real number that remembers the op and the parents it was computed from.

Every node is made by ``apply(op, *inputs)``: compute the op's forward on the inputs' data and
record the op and the inputs. The operators and methods of ``Value`` are one-line calls to it.
"""

from __future__ import annotations

import math
import numbers
from types import SimpleNamespace
from typing import Any, Union

from autograd import _compiled, engine, grad_mode, ops
from autograd.grad_mode import data_dependent_error, recording
from autograd.ops import LEAF, UNTRACKED, Op

Number = Union[int, float]


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

    # Parents are a tuple and the op is a shared record: no closure and no reference back to the
    # node, so a graph has no cycles and frees itself by reference counting.
    __slots__ = ("_data", "grad", "_label", "_op", "_prev")

    def __init__(self, data: Number, label: str = "") -> None:
        # the checks run only for what is not already a float (not NaN) and a str
        self._data: float = data if type(data) is float and data == data else _as_float(data)
        self.grad: float | Value = 0.0
        self._label: str = label if type(label) is str else _as_label(label)
        self._op: Op = LEAF
        self._prev: tuple[Value, ...] = ()

    @property
    def data(self) -> float:
        """The number this Value holds (a float; setting it takes any real number but NaN).

        While ``autograd.compile`` records a function, reading it raises
        ``autograd.DataDependentError``: the engine itself reads ``_data``.

        >>> v = Value(2); v.data = 3; v.data
        3.0
        """
        if recording.function:
            raise data_dependent_error("v.data")
        return self._data

    @data.setter
    def data(self, data: Number) -> None:
        self._data = data if type(data) is float and data == data else _as_float(data)

    @property
    def label(self) -> str:
        """A name for drawings and reprs (a ``str``: nothing that could point back at a node).

        >>> v = Value(1.0, label="w1"); v.label = "w"; v.label
        'w'
        """
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        self._label = label if type(label) is str else _as_label(label)

    # --- what a node is -----------------------------------------------------------------------

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
        """True for a Value with no parents (created by the user, a constant, or detached).

        >>> Value(1.0).is_leaf, (Value(1.0) * 2).is_leaf
        (True, False)
        """
        return not self._prev

    def item(self) -> float:
        """The plain float, as in PyTorch. ``Value(3).item() == 3.0``."""
        if recording.function:
            raise data_dependent_error("v.item()")
        return self._data

    def __float__(self) -> float:
        if recording.function:
            raise data_dependent_error("float(v)")
        return self._data

    # What Python would do without these (True; a TypeError), but refused while recording, as
    # the number decides them (or would, in code written for floats)

    def __bool__(self) -> bool:
        if recording.function:
            raise data_dependent_error("bool(v)")
        return True

    def __int__(self) -> int:
        if recording.function:
            raise data_dependent_error("int(v)")
        raise TypeError("int() argument must be a string, a bytes-like object or a real number, "
                        "not 'Value'")

    def __index__(self) -> int:
        if recording.function:
            raise data_dependent_error("a Value as an index")
        raise TypeError("'Value' object cannot be interpreted as an integer: to pick from a "
                        "list by a Value, use autograd.take(values, index)")

    def __round__(self, ndigits: int | None = None) -> Any:
        if recording.function:
            raise data_dependent_error("round(v)")
        raise TypeError("type Value doesn't define __round__ method")

    def __format__(self, format_spec: str, /) -> str:
        if recording.function:
            raise data_dependent_error("format(v)")
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:  # shows the number even while recording: it decides nothing
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self._data!r}, grad={self.grad!r}{label})"

    # --- arithmetic: numbers on either side become constant leaves ----------------------------

    def __add__(self, other: Value | Number) -> Value:
        return apply(ops.ADD, self, other)

    def __radd__(self, other: Number) -> Value:
        return apply(ops.ADD, other, self)

    def __sub__(self, other: Value | Number) -> Value:
        return apply(ops.SUB, self, other)

    def __rsub__(self, other: Number) -> Value:
        return apply(ops.SUB, other, self)

    def __mul__(self, other: Value | Number) -> Value:
        return apply(ops.MUL, self, other)

    def __rmul__(self, other: Number) -> Value:
        return apply(ops.MUL, other, self)

    def __truediv__(self, other: Value | Number) -> Value:
        return apply(ops.DIV, self, other)

    def __rtruediv__(self, other: Number) -> Value:
        return apply(ops.DIV, other, self)

    def __pow__(self, exponent: Value | Number) -> Value:
        if isinstance(exponent, Value):
            return apply(ops.POW, self, exponent)
        return apply(ops.power(_as_float(exponent)), self)

    def __rpow__(self, base: Number) -> Value:
        return apply(ops.POW, base, self)

    def __neg__(self) -> Value:
        return apply(ops.NEG, self)

    def __abs__(self) -> Value:
        return apply(ops.ABS, self)

    # --- comparisons look at data -------------------------------------------------------------

    def __lt__(self, other: Value | Number) -> bool:
        return _compared(self, "<") < _data(other)

    def __le__(self, other: Value | Number) -> bool:
        return _compared(self, "<=") <= _data(other)

    def __gt__(self, other: Value | Number) -> bool:
        return _compared(self, ">") > _data(other)

    def __ge__(self, other: Value | Number) -> bool:
        return _compared(self, ">=") >= _data(other)

    # --- functions (each one op of the table, see autograd/ops.py) ----------------------------

    def exp(self) -> Value:
        """e ** self. ``Value(0).exp().data == 1.0``."""
        return apply(ops.EXP, self)

    def log(self) -> Value:
        """Natural log; ``ValueError`` for inputs <= 0. ``Value(1).log().data == 0.0``."""
        return apply(ops.LOG, self)

    def sqrt(self) -> Value:
        """Square root; ``ValueError`` for negative inputs. ``Value(4).sqrt().data == 2.0``."""
        return apply(ops.SQRT, self)

    def sin(self) -> Value:
        """Sine. ``Value(0).sin().data == 0.0``."""
        return apply(ops.SIN, self)

    def cos(self) -> Value:
        """Cosine. ``Value(0).cos().data == 1.0``."""
        return apply(ops.COS, self)

    def tanh(self) -> Value:
        """Hyperbolic tangent. ``Value(0).tanh().data == 0.0``."""
        return apply(ops.TANH, self)

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x), stable for any input. ``Value(0).sigmoid().data == 0.5``."""
        return apply(ops.SIGMOID, self)

    def softplus(self) -> Value:
        """log(1 + e**x), stable for any input. ``Value(-1000).softplus().data == 0.0``."""
        return apply(ops.SOFTPLUS, self)

    def relu(self) -> Value:
        """max(x, 0). ``Value(-2).relu().data == 0.0``."""
        return apply(ops.RELU, self)

    def leaky_relu(self, slope: float = ops.LEAKY_SLOPE) -> Value:
        """x if x > 0 else slope * x. ``Value(-2).leaky_relu(0.1).data == -0.2``."""
        return apply(ops.leaky_relu(slope), self)

    def gelu(self) -> Value:
        """x Φ(x), the exact (erf) form. ``Value(0).gelu().data == 0.0``."""
        return apply(ops.GELU, self)

    def erf(self) -> Value:
        """The error function. ``Value(0).erf().data == 0.0``."""
        return apply(ops.ERF, self)

    def abs(self) -> Value:
        """|x|; its derivative at 0 is taken as 0. ``Value(-2).abs().data == 2.0``."""
        return apply(ops.ABS, self)

    # --- gradients ----------------------------------------------------------------------------

    def backward(self, create_graph: bool = False) -> None:
        """Backpropagate from this Value: fill ``.grad`` of everything it was computed from.

        The output's gradient is seeded with 1 and every node's local derivatives are applied
        in reverse topological order (an iterative walk, so any depth works). Calling it again:
        leaves (Values you created) accumulate, as in PyTorch — call ``zero_grad`` or set
        ``.grad = 0.0`` between steps; interior nodes are recomputed from scratch, never
        double-counted. If a derivative is undefined or overflows, it raises and no ``.grad``
        changes. With ``create_graph=True`` the gradients are Values connected to the graph, so
        they can be differentiated again (a leaf's ``.grad`` then reaches back to the leaf:
        reset it to ``0.0`` when done, as that is the one reference cycle chainrule makes).

        >>> a = Value(2.0); b = a * a; c = b * b
        >>> c.backward(); c.backward()
        >>> a.grad, b.grad
        (64.0, 8.0)
        """
        engine.backward(self, create_graph=create_graph)

    def detach(self) -> Value:
        """A new leaf with the same data and no history. ``Value(2.0).detach().data == 2.0``."""
        return Value(self.data)

    # --- copying and pickling -----------------------------------------------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        return copy_graph(self, memo)

    def __reduce__(self) -> tuple[Any, ...]:
        return pickle_leaf(self)


def apply(op: Op, *inputs: Value | Number) -> Value:
    """Compute ``op`` on ``inputs`` (Values or numbers) and record the result as a graph node.

    Numbers become constant leaves. Inside ``no_grad`` the result is a leaf with no history.
    A NaN result raises ``ValueError`` and a result that overflows from finite inputs raises
    ``OverflowError``, both naming the op and its inputs.

    >>> apply(ops.MUL, Value(2.0), 3).data
    6.0
    """
    parents = inputs
    for x in inputs:
        if not isinstance(x, Value):  # numbers become constant leaves
            parents = tuple([x if isinstance(x, Value) else Value(x) for x in inputs])
            break
    if len(parents) != op.arity or op.layout:
        op.check_count(len(parents))  # n-ary (arity 0): its layout decides
    data = op.compute_at(parents)
    if data - data != 0.0:  # NaN, or an infinity
        _check_result(op.name, data, [x._data for x in parents])
    node = Value(data)
    if grad_mode.state.enabled:
        node._op, node._prev = op, parents
    else:
        node._op = UNTRACKED
    return node


def _check_result(name: str, data: float, inputs: list[float]) -> None:
    """Refuse a NaN, and an infinity that finite inputs overflowed to (see docs/engine.md)."""
    if data != data:
        raise ValueError(f"{name}: the result is NaN at inputs {inputs}")
    if all(map(math.isfinite, inputs)):
        raise ops.overflow(name, inputs)


def _as_float(data: object) -> float:
    if type(data) is not float:
        if isinstance(data, Value):
            raise TypeError("Value needs a number, got a Value: use that Value itself, or "
                            "value.detach() for a new leaf with its data")
        if getattr(data, "shape", None) == ():  # a 0-d numpy array
            data = data[()]  # type: ignore[index]
        if not isinstance(data, numbers.Real) or isinstance(data, bool):
            raise TypeError(
                f"Value needs a real number (int, float, or a numpy integer/floating scalar), "
                f"got {type(data).__name__}: {data!r}"
            )
        try:
            number = float(data)
        except OverflowError:
            raise OverflowError(f"Value: {data!r} is too large for a float") from None
        if math.isinf(number) and data != number:  # a wider float type beyond float's range
            raise OverflowError(f"Value: {data!r} is too large for a float")
        data = number
    if data != data:
        raise ValueError("Value needs a number, got NaN (a NaN would spread silently)")
    return data


def _as_label(label: object) -> str:
    if type(label) is not str:
        hint = ""
        if isinstance(label, (tuple, list, set)):
            hint = (" (micrograd's Value(data, children) is not needed: operations record "
                    "their inputs themselves, see .parents)")
        raise TypeError(f"Value: label must be a str, got {type(label).__name__}: "
                        f"{label!r}{hint}")
    return label


def _compared(value: Value, operator: str) -> float:
    if recording.function:
        raise data_dependent_error(f"v {operator} w")
    return value._data


def _data(x: Value | Number) -> float:
    return x.data if isinstance(x, Value) else x


def copy_graph(root: Any, memo: dict[int, Any]) -> Any:
    """A deep copy of ``root`` and the graph behind it, made without recursion (any depth).

    Ops are shared records and are not copied. Works for either implementation of ``Value``.

    >>> import copy
    >>> a = Value(2.0); b = copy.deepcopy(a * a)
    >>> b.data, b.parents[0] is b.parents[1], b.parents[0] is a
    (4.0, True, False)
    """
    cls = type(root)
    copies = []
    for node in engine.ancestors(root):
        if id(node) not in memo:
            clone = cls(node.data, node.label)
            clone._op = node._op
            clone._prev = tuple(memo[id(parent)] for parent in node._prev)
            memo[id(node)] = clone
            copies.append((node, clone))
    for node, clone in copies:  # a create_graph gradient may point into the graph
        clone.grad = node.grad if type(node.grad) is float else copy_graph(node.grad, memo)
    return memo[id(root)]


def pickle_leaf(value: Any) -> tuple[Any, ...]:
    """How a Value pickles: a leaf as its data, grad and label; a node with history refuses.

    >>> import pickle
    >>> pickle.loads(pickle.dumps(Value(1.5, label="w")))
    Value(data=1.5, grad=0.0, label='w')
    """
    if value._prev or type(value.grad) is not float:
        what = f"computed by {value.op!r}" if value._prev else "with a Value as its .grad"
        raise TypeError(f"cannot pickle a Value {what}: its graph holds functions. Pickle "
                        f"leaves (model parameters), or value.detach(), or a state_dict")
    return (_unpickle_leaf, (type(value), value.data, value.grad, value.label))


def _unpickle_leaf(cls: type, data: float, grad: float, label: str) -> Any:
    leaf = cls(data, label)
    leaf.grad = grad
    return leaf


# --- what the compiled twin calls back -------------------------------------------------------
# Whenever the C code does not decide by itself (a number that is not a float or int, a result
# or gradient that is not finite, a user's op, a wrong count of inputs), it calls these, so its
# results and errors (types and messages) are the reference's own, by construction.


def _check_value(*args: Any, **kwargs: Any) -> float:
    """``Value(*args, **kwargs)``'s data, or the error of the reference's constructor."""
    return _ReferenceValue(*args, **kwargs).data


def _forward(op: Op, inputs: tuple[Value, ...]) -> float:
    """The data of ``apply(op, *inputs)``, by the reference's steps (inputs already lifted)."""
    if len(inputs) != op.arity or op.layout:
        op.check_count(len(inputs))
    return forward_numbers(op, [x._data for x in inputs])


def forward_numbers(op: Op, inputs: list[float]) -> float:
    """``op`` computed on plain numbers, with ``apply``'s checks: a NaN or an overflow raises.

    >>> forward_numbers(ops.MUL, [2.0, 3.0])
    6.0
    """
    data = op.compute(inputs)
    if data - data != 0.0:  # NaN, or an infinity
        _check_result(op.name, data, inputs)
    return data if type(data) is float else _as_float(data)


def refuse(value: Value, what: str) -> None:
    """Raise the reference's refusal of ``what`` (a read of ``value``'s number) while recording."""
    raise data_dependent_error(what)


_ReferenceValue = Value
_REFERENCE = SimpleNamespace(
    as_float=_as_float, as_label=_as_label, check_value=_check_value, forward=_forward,
    reduce=pickle_leaf, deepcopy=copy_graph, refuse=refuse,
    reference_method=lambda name: getattr(_ReferenceValue, name),
    backward=engine.backward, as_number=engine._as_number, RULE_ERRORS=engine.RULE_ERRORS,
    rule_error=engine._backward_error, rule_check=engine._rule_check,
    gradient_error=engine._gradient_error, leaf_error=engine._end_error,
    accumulate_error=engine._accumulate_error)
"""Everything the C core calls back, handed to it in one call (names as in autograd/_core.c)."""

# The compiled twin (autograd/_core.c) takes the place of Value and apply when it is built.
Value, apply = _compiled.select(Value, apply, ops, _REFERENCE)
